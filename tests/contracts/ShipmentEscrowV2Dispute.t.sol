// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";

/// @dev Disputes after an attestation and from the deadline without one; evidence; the arbiter;
/// timeouts.
contract ShipmentEscrowV2DisputeTest is EscrowV2TestBase {
    // ---------------------------------------------------------------- openDispute

    function test_openDispute_afterAttestationByBuyerOrPayee() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fundAndAttest(t, 10);
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.DisputeOpened(SHIPMENT_ID, payee, true);
        vm.prank(payee);
        escrow2.openDispute(SHIPMENT_ID);
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrowV2.State.Disputed));
        assertEq(escrow2.shipment(SHIPMENT_ID).disputedAt, block.timestamp);
    }

    function test_openDispute_revertsAfterWindow() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fundAndAttest(t, 10);
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputeNotOpenable.selector, SHIPMENT_ID));
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsIfNotParty() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(carrier);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NotParty.selector, carrier));
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsWithoutArbiter() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.arbiter = address(0);
        t.autoAcceptAfter = 0;
        _fundAndAttest(t, 10);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NoArbiter.selector, SHIPMENT_ID));
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_unattestedFromDeadline() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline - 1);
        vm.prank(payee);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputeNotOpenable.selector, SHIPMENT_ID));
        escrow2.openDispute(SHIPMENT_ID);
        vm.warp(t.deadline);
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.DisputeOpened(SHIPMENT_ID, payee, false);
        vm.prank(payee);
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_unattestedRevertsAfterAttestationDeadline() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputeNotOpenable.selector, SHIPMENT_ID));
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsWhenAlreadyDisputed() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        vm.prank(payee);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Disputed));
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsIfUnknown() public {
        vm.prank(buyer);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.None));
        escrow2.openDispute(SHIPMENT_ID);
    }

    // ---------------------------------------------------------------- attestation during a dispute

    /// @dev A buyer who disputes at the deadline cannot keep a late delivery from being attested.
    function test_attest_duringUnattestedDisputeBecomesFallback() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        vm.warp(uint256(t.deadline) + 2 hours);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        _attest(t, a); // 2 late hours x 20 bps
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrowV2.State.Disputed));
        assertEq(s.refund, AMOUNT * 40 / 10_000);
        vm.warp(uint256(s.disputedAt) + DISPUTE_TIMEOUT);
        escrow2.settle(SHIPMENT_ID);
        assertEq(escrow2.owed(ETH, payee), AMOUNT - AMOUNT * 40 / 10_000);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT * 40 / 10_000);
    }

    function test_attest_revertsInAttestedDispute() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        IShipmentEscrowV2.DeliveryAttestation memory a = _fundAndAttest(t, 10);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        bytes memory sig = _signAttestation(a);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Disputed));
        escrow2.attest(t, a, sig);
    }

    // ---------------------------------------------------------------- resolveDispute

    function test_resolveDispute_creditsArbitersSplit() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.DisputeResolved(SHIPMENT_ID, arbiter, 4 ether, 6 ether);
        vm.prank(arbiter);
        escrow2.resolveDispute(SHIPMENT_ID, 4 ether);
        assertEq(escrow2.owed(ETH, payee), 4 ether);
        assertEq(escrow2.owed(ETH, buyer), 6 ether);
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrowV2.State.Settled));
    }

    function test_resolveDispute_unattestedWholeDepositToPayee() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline);
        vm.prank(payee);
        escrow2.openDispute(SHIPMENT_ID);
        vm.prank(arbiter);
        escrow2.resolveDispute(SHIPMENT_ID, AMOUNT);
        assertEq(escrow2.owed(ETH, payee), AMOUNT);
        assertEq(escrow2.owed(ETH, buyer), 0);
    }

    function test_resolveDispute_revertsIfNotArbiter() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NotArbiter.selector, buyer, arbiter));
        escrow2.resolveDispute(SHIPMENT_ID, 0);
    }

    function test_resolveDispute_revertsAfterTimeout() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        uint256 timesOutAt = block.timestamp + DISPUTE_TIMEOUT;
        vm.warp(timesOutAt);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputeTimedOut.selector, timesOutAt));
        escrow2.resolveDispute(SHIPMENT_ID, 0);
    }

    function test_resolveDispute_revertsOnPayoutAboveDeposit() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSplit.selector, AMOUNT + 1, AMOUNT));
        escrow2.resolveDispute(SHIPMENT_ID, AMOUNT + 1);
    }

    function test_resolveDispute_revertsUnlessDisputed() public {
        _fundAndAttest(_terms(), 10);
        vm.prank(arbiter);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Attested));
        escrow2.resolveDispute(SHIPMENT_ID, 0);
    }

    // ---------------------------------------------------------------- settle after a dispute

    function test_settle_timedOutAttestedDisputeFallsBackToAttestation() public {
        _fundAndAttest(_terms(), 100); // 1000 bps
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        uint256 timesOutAt = block.timestamp + DISPUTE_TIMEOUT;
        vm.warp(timesOutAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputePending.selector, timesOutAt));
        escrow2.settle(SHIPMENT_ID);
        vm.warp(timesOutAt);
        escrow2.settle(SHIPMENT_ID);
        assertEq(escrow2.owed(ETH, payee), 9 ether);
        assertEq(escrow2.owed(ETH, buyer), 1 ether);
    }

    /// @dev Unattested and unresolved: the buyer's full refund, but only once no attestation can
    /// come (the attestation deadline), never earlier than refund() would allow.
    function test_settle_timedOutUnattestedDisputeRefundsBuyerAfterAttestationDeadline() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.disputeTimeout = 1 hours;
        _fund(t);
        vm.warp(t.deadline);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        uint256 settleableAt = uint256(t.deadline) + t.refundGrace + 1;
        vm.warp(uint256(t.deadline) + 2 hours); // timed out, but an attestation may still come
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputePending.selector, settleableAt));
        escrow2.settle(SHIPMENT_ID);
        vm.warp(settleableAt);
        escrow2.settle(SHIPMENT_ID);
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(s.payout, 0);
        assertEq(s.refund, AMOUNT);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT);
    }

    function test_settle_unattestedDisputeWaitsForLongerTimeout() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        uint256 settleableAt = uint256(t.deadline) + DISPUTE_TIMEOUT; // later than deadline + refundGrace
        vm.warp(settleableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputePending.selector, settleableAt));
        escrow2.settle(SHIPMENT_ID);
        vm.warp(settleableAt);
        escrow2.settle(SHIPMENT_ID);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT);
    }

    // ---------------------------------------------------------------- submitEvidence

    function _disputedWithEvidence()
        internal
        returns (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2, uint64 windowStart)
    {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 10);
        windowStart = a.windowStart;
        r1 = _reading(device, 1, windowStart + 60);
        r2 = _reading(device2, 2, windowStart + 120);
        a.evidenceRoot = escrow2.evidenceLeaf(escrow2.readingDigest(r1)) < escrow2.evidenceLeaf(escrow2.readingDigest(r2))
            ? keccak256(abi.encode(_evidenceLeafOf(r1), _evidenceLeafOf(r2)))
            : keccak256(abi.encode(_evidenceLeafOf(r2), _evidenceLeafOf(r1)));
        _attest(t, a);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
    }

    function test_submitEvidence_flagsReadingInAttestedEvidence() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2,) = _disputedWithEvidence();
        bytes memory sig = _signReading(r1, deviceKey);
        bytes32 digest = escrow2.readingDigest(r1);
        bytes32[] memory dProof = _deviceProof(device);
        bytes32[] memory eProof = _one(_evidenceLeafOf(r2));
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.EvidenceSubmitted(SHIPMENT_ID, carrier, digest, r1, true);
        vm.prank(carrier);
        escrow2.submitEvidence(SHIPMENT_ID, r1, sig, dProof, eProof);
    }

    /// @dev A reading the oracle left out still goes on record, flagged as not in the evidence.
    function test_submitEvidence_acceptsReadingOutsideAttestedEvidence() public {
        (,, uint64 windowStart) = _disputedWithEvidence();
        ITraceAnchor.Reading memory r3 = _reading(device2, 3, windowStart + 300);
        bytes memory sig = _signReading(r3, device2Key);
        bytes32 digest = escrow2.readingDigest(r3);
        bytes32[] memory dProof = _deviceProof(device2);
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.EvidenceSubmitted(SHIPMENT_ID, payee, digest, r3, false);
        vm.prank(payee);
        escrow2.submitEvidence(SHIPMENT_ID, r3, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_unattestedWindowIsFundingToDeadline() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        uint64 fundedAt = uint64(block.timestamp);
        _fund(t);
        vm.warp(t.deadline);
        vm.prank(payee);
        escrow2.openDispute(SHIPMENT_ID);
        ITraceAnchor.Reading memory inside = _reading(device, 1, t.deadline);
        bytes memory sig = _signReading(inside, deviceKey);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(payee);
        escrow2.submitEvidence(SHIPMENT_ID, inside, sig, dProof, new bytes32[](0));
        ITraceAnchor.Reading memory before = _reading(device, 2, fundedAt - 1);
        sig = _signReading(before, deviceKey);
        vm.prank(payee);
        vm.expectRevert(
            abi.encodeWithSelector(
                IShipmentEscrowV2.EscrowV2ReadingOutsideWindow.selector,
                before.takenAtMs,
                uint256(fundedAt) * 1000,
                uint256(t.deadline) * 1000 + 999
            )
        );
        escrow2.submitEvidence(SHIPMENT_ID, before, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsOnReadingAfterDelivery() public {
        _disputedWithEvidence();
        ITraceAnchor.Reading memory late = _reading(device, 9, uint64(block.timestamp) + 1);
        bytes memory sig = _signReading(late, deviceKey);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(buyer);
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2ReadingOutsideWindow.selector);
        escrow2.submitEvidence(SHIPMENT_ID, late, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsOnDeviceNotInShipment() public {
        (,, uint64 windowStart) = _disputedWithEvidence();
        ITraceAnchor.Reading memory r = _reading(outsider, 1, windowStart + 10);
        bytes memory sig = _signReading(r, outsiderKey);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DeviceNotInShipment.selector, outsider));
        escrow2.submitEvidence(SHIPMENT_ID, r, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsOnOtherSigner() public {
        (ITraceAnchor.Reading memory r1,,) = _disputedWithEvidence();
        bytes memory sig = _signReading(r1, device2Key);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidReadingSignature.selector, device, device2)
        );
        escrow2.submitEvidence(SHIPMENT_ID, r1, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsOnAlteredReading() public {
        (ITraceAnchor.Reading memory r1,,) = _disputedWithEvidence();
        bytes memory sig = _signReading(r1, deviceKey);
        r1.temperatureCentiC = 500;
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(buyer);
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2InvalidReadingSignature.selector);
        escrow2.submitEvidence(SHIPMENT_ID, r1, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsIfNotParty() public {
        (ITraceAnchor.Reading memory r1,,) = _disputedWithEvidence();
        bytes memory sig = _signReading(r1, deviceKey);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NotParty.selector, stranger));
        escrow2.submitEvidence(SHIPMENT_ID, r1, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsUnlessDisputed() public {
        _fundAndAttest(_terms(), 10);
        ITraceAnchor.Reading memory r = _reading(device, 1, uint64(block.timestamp) - 60);
        bytes memory sig = _signReading(r, deviceKey);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(buyer);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Attested));
        escrow2.submitEvidence(SHIPMENT_ID, r, sig, dProof, new bytes32[](0));
    }

    function test_submitEvidence_revertsAfterTimeout() public {
        (ITraceAnchor.Reading memory r1,,) = _disputedWithEvidence();
        uint256 timesOutAt = block.timestamp + DISPUTE_TIMEOUT;
        vm.warp(timesOutAt);
        bytes memory sig = _signReading(r1, deviceKey);
        bytes32[] memory dProof = _deviceProof(device);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputeTimedOut.selector, timesOutAt));
        escrow2.submitEvidence(SHIPMENT_ID, r1, sig, dProof, new bytes32[](0));
    }
}
