// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";

/// @dev Disputes: who may open one and when, evidence proven against the attested root, the
/// arbiter's split, and the fallback to the attestation's split after the timeout.
contract ShipmentEscrowDisputeTest is EscrowTestBase {
    uint32 internal constant MINUTES = 100; // 100 x 10 bps = 10 % penalty

    function _err(bytes4 selector, bytes32 a) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a);
    }

    // ---------------------------------------------------------------- openDispute

    function test_openDispute_byBuyerOrPayee() public {
        IShipmentEscrow.Terms memory terms = _terms();
        _fundAndAttestWithEvidence(terms, MINUTES);
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.DisputeOpened(SHIPMENT_ID, payee);
        vm.prank(payee);
        escrow.openDispute(SHIPMENT_ID);
        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrow.State.Disputed));
        assertEq(s.disputedAt, block.timestamp);

        terms.shipmentId = keccak256("second");
        _fundAndAttestWithEvidence(terms, MINUTES);
        vm.prank(buyer);
        escrow.openDispute(terms.shipmentId);
        assertEq(uint8(_state(terms.shipmentId)), uint8(IShipmentEscrow.State.Disputed));
    }

    function test_openDispute_revertsIfNotParty() public {
        _fundAndAttestWithEvidence(_terms(), MINUTES);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotParty.selector, arbiter));
        escrow.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsWithoutArbiter() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.arbiter = address(0);
        _fundAndAttestWithEvidence(terms, MINUTES);
        vm.prank(buyer);
        vm.expectRevert(_err(IShipmentEscrow.EscrowNoArbiter.selector, SHIPMENT_ID));
        escrow.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsAfterWindow() public {
        _fundAndAttestWithEvidence(_terms(), MINUTES);
        uint64 endsAt = uint64(block.timestamp) + DISPUTE_WINDOW;
        vm.warp(endsAt - 1);
        vm.prank(buyer);
        escrow.openDispute(SHIPMENT_ID); // the last second still counts
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrow.State.Disputed));

        IShipmentEscrow.Terms memory terms = _terms();
        terms.shipmentId = keccak256("late");
        _fundAndAttestWithEvidence(terms, MINUTES);
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IShipmentEscrow.EscrowDisputeWindowClosed.selector, uint64(block.timestamp))
        );
        escrow.openDispute(terms.shipmentId);
    }

    function test_openDispute_revertsInWrongState() public {
        IShipmentEscrow.Terms memory terms = _terms();
        vm.prank(buyer);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.None));
        escrow.openDispute(SHIPMENT_ID);
        _fund(terms);
        vm.prank(buyer);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Funded));
        escrow.openDispute(SHIPMENT_ID);
    }

    function test_openDispute_revertsWhenAlreadyDisputed() public {
        _disputed(_terms(), MINUTES);
        vm.prank(payee);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Disputed));
        escrow.openDispute(SHIPMENT_ID);
    }

    // ---------------------------------------------------------------- submitEvidence

    function test_submitEvidence_emitsProvenReading() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32 digest = traceAnchor.readingDigest(r2);
        bytes memory sig1 = _signReading(r1, deviceKey);
        bytes memory sig2 = _signReading(r2, deviceKey);
        bytes32[] memory proof1 = _proof(_leafOf(r2));
        bytes32[] memory proof2 = _proof(_leafOf(r1));
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.EvidenceSubmitted(SHIPMENT_ID, payee, digest, device, 2, r2.takenAtMs, 1200);
        vm.prank(payee);
        escrow.submitEvidence(SHIPMENT_ID, r2, sig2, proof2);

        vm.prank(buyer);
        escrow.submitEvidence(SHIPMENT_ID, r1, sig1, proof1);
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrow.State.Disputed));
    }

    function test_evidenceLeaf_matchesFormats() public view {
        bytes32 digest = keccak256("reading");
        bytes32 expected = keccak256(bytes.concat(keccak256(abi.encode(keccak256("chaintrace.evidence.v1"), digest))));
        assertEq(escrow.evidenceLeaf(digest), expected);
        assertEq(escrow.EVIDENCE_V1(), keccak256("chaintrace.evidence.v1"));
        assertEq(address(escrow.traceAnchor()), address(traceAnchor));
    }

    function test_submitEvidence_revertsIfNotParty() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32[] memory proof = _proof(_leafOf(r2));
        bytes memory sig = _signReading(r1, deviceKey);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotParty.selector, stranger));
        escrow.submitEvidence(SHIPMENT_ID, r1, sig, proof);
    }

    function test_submitEvidence_revertsUnlessDisputed() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _fundAndAttestWithEvidence(_terms(), MINUTES);
        bytes memory sig = _signReading(r1, deviceKey);
        bytes32[] memory proof = _proof(_leafOf(r2));
        vm.prank(buyer);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Attested));
        escrow.submitEvidence(SHIPMENT_ID, r1, sig, proof);
    }

    function test_submitEvidence_revertsAfterTimeout() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32[] memory proof = _proof(_leafOf(r2));
        uint64 timesOutAt = uint64(block.timestamp) + DISPUTE_TIMEOUT;
        vm.warp(timesOutAt);
        bytes memory sig = _signReading(r1, deviceKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowDisputeTimedOut.selector, timesOutAt));
        escrow.submitEvidence(SHIPMENT_ID, r1, sig, proof);
    }

    function test_submitEvidence_revertsOnOtherSigner() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32[] memory proof = _proof(_leafOf(r2));
        bytes memory sig = _signReading(r1, buyerKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidReadingSignature.selector, device, buyer));
        escrow.submitEvidence(SHIPMENT_ID, r1, sig, proof);
    }

    function test_submitEvidence_revertsOnMalformedSignature() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32[] memory proof = _proof(_leafOf(r2));
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidReadingSignature.selector, device, address(0))
        );
        escrow.submitEvidence(SHIPMENT_ID, r1, hex"1234", proof);
    }

    function test_submitEvidence_revertsOnReadingNotInRoot() public {
        (, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32[] memory proof = _proof(_leafOf(r2));
        // Signed by the device, but never part of the attested evidence.
        ITraceAnchor.Reading memory other = _reading(3, 500);
        bytes32 root = escrow.shipment(SHIPMENT_ID).evidenceRoot;
        bytes memory sig = _signReading(other, deviceKey);
        bytes32 digest = traceAnchor.readingDigest(other);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowEvidenceNotAttested.selector, digest, root));
        escrow.submitEvidence(SHIPMENT_ID, other, sig, proof);
    }

    function test_submitEvidence_revertsOnAlteredReading() public {
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(_terms(), MINUTES);
        bytes32[] memory proof = _proof(_leafOf(r2));
        bytes memory sig = _signReading(r1, deviceKey);
        r1.temperatureCentiC = 1500; // a party "improves" the reading after the fact
        vm.prank(buyer);
        vm.expectPartialRevert(IShipmentEscrow.EscrowInvalidReadingSignature.selector);
        escrow.submitEvidence(SHIPMENT_ID, r1, sig, proof);
    }

    function test_submitEvidence_revertsOnInnerNodeAsLeaf() public {
        (ITraceAnchor.Reading memory r1,) = _disputed(_terms(), MINUTES);
        // Without the sibling only the root itself could match, and a leaf is never the root.
        bytes32[] memory proof = new bytes32[](0);
        bytes memory sig = _signReading(r1, deviceKey);
        vm.prank(buyer);
        vm.expectPartialRevert(IShipmentEscrow.EscrowEvidenceNotAttested.selector);
        escrow.submitEvidence(SHIPMENT_ID, r1, sig, proof);
    }

    // ---------------------------------------------------------------- resolveDispute

    function test_resolveDispute_creditsArbitersSplit() public {
        _disputed(_terms(), MINUTES);
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.DisputeResolved(SHIPMENT_ID, arbiter, 7 ether, 3 ether);
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentSettled(SHIPMENT_ID, 7 ether, 3 ether);
        vm.prank(arbiter);
        escrow.resolveDispute(SHIPMENT_ID, 7 ether);

        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrow.State.Settled));
        assertEq(s.payout, 7 ether);
        assertEq(s.refund, 3 ether);
        assertEq(escrow.owed(ETH, payee), 7 ether);
        assertEq(escrow.owed(ETH, buyer), 3 ether);
    }

    function test_resolveDispute_wholeDepositEitherWay() public {
        _disputed(_terms(), MINUTES);
        vm.prank(arbiter);
        escrow.resolveDispute(SHIPMENT_ID, AMOUNT);
        assertEq(escrow.owed(ETH, payee), AMOUNT);
        assertEq(escrow.owed(ETH, buyer), 0);
    }

    function test_resolveDispute_revertsIfNotArbiter() public {
        _disputed(_terms(), MINUTES);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotArbiter.selector, buyer, arbiter));
        escrow.resolveDispute(SHIPMENT_ID, 0);
    }

    function test_resolveDispute_revertsOnPayoutAboveDeposit() public {
        _disputed(_terms(), MINUTES);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidSplit.selector, AMOUNT + 1, AMOUNT));
        escrow.resolveDispute(SHIPMENT_ID, AMOUNT + 1);
    }

    function test_resolveDispute_revertsAfterTimeout() public {
        _disputed(_terms(), MINUTES);
        uint64 timesOutAt = uint64(block.timestamp) + DISPUTE_TIMEOUT;
        vm.warp(timesOutAt);
        vm.prank(arbiter);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowDisputeTimedOut.selector, timesOutAt));
        escrow.resolveDispute(SHIPMENT_ID, 0);
    }

    function test_resolveDispute_revertsUnlessDisputed() public {
        _fundAndAttestWithEvidence(_terms(), MINUTES);
        vm.prank(arbiter);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Attested));
        escrow.resolveDispute(SHIPMENT_ID, 0);
    }

    function test_resolveDispute_revertsWhenResolvedTwice() public {
        _disputed(_terms(), MINUTES);
        vm.startPrank(arbiter);
        escrow.resolveDispute(SHIPMENT_ID, 1 ether);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Settled));
        escrow.resolveDispute(SHIPMENT_ID, 9 ether);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- settle of a dispute

    function test_settle_disputeRevertsWhilePending() public {
        _disputed(_terms(), MINUTES);
        uint64 timesOutAt = uint64(block.timestamp) + DISPUTE_TIMEOUT;
        // The dispute window's end no longer matters: only the arbiter or the timeout can settle.
        vm.warp(timesOutAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowDisputePending.selector, timesOutAt));
        escrow.settle(SHIPMENT_ID);
    }

    function test_settle_timedOutDisputeFallsBackToAttestation() public {
        _disputed(_terms(), MINUTES);
        vm.warp(block.timestamp + DISPUTE_TIMEOUT);
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentSettled(SHIPMENT_ID, 9 ether, 1 ether);
        vm.prank(stranger);
        escrow.settle(SHIPMENT_ID);
        assertEq(escrow.owed(ETH, payee), 9 ether);
        assertEq(escrow.owed(ETH, buyer), 1 ether);
        vm.prank(arbiter);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Settled));
        escrow.resolveDispute(SHIPMENT_ID, 0);
    }

    // ---------------------------------------------------------------- terms

    function test_fund_revertsOnArbiterWhoIsAParty() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.arbiter = buyer;
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidArbiter.selector, buyer));
        terms.arbiter = payee;
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidArbiter.selector, payee));
    }

    function test_fund_revertsOnArbiterWithoutTimeout() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.disputeTimeout = 0;
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidArbiter.selector, arbiter));
        terms.arbiter = address(0); // no arbiter, no disputes: the timeout is irrelevant
        _fund(terms);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_resolveDispute_splitAddsUpToDeposit(uint256 amount, uint256 payout, uint32 excursion) public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.amount = bound(amount, 1, type(uint128).max);
        vm.deal(buyer, terms.amount);
        _disputed(terms, excursion);
        payout = bound(payout, 0, terms.amount);
        vm.prank(arbiter);
        escrow.resolveDispute(SHIPMENT_ID, payout);
        assertEq(escrow.owed(ETH, payee) + escrow.owed(ETH, buyer), terms.amount);
        assertEq(escrow.owed(ETH, payee), payout);
    }

    function testFuzz_openDispute_onlyInsideWindow(uint64 window, uint64 after_) public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.disputeWindow = uint64(bound(window, 0, 30 days));
        _fundAndAttestWithEvidence(terms, MINUTES);
        uint64 attestedAt = uint64(block.timestamp);
        after_ = uint64(bound(after_, 0, 60 days));
        vm.warp(uint256(attestedAt) + after_);
        vm.prank(buyer);
        if (after_ < terms.disputeWindow) {
            escrow.openDispute(SHIPMENT_ID);
            assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrow.State.Disputed));
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IShipmentEscrow.EscrowDisputeWindowClosed.selector, attestedAt + terms.disputeWindow
                )
            );
            escrow.openDispute(SHIPMENT_ID);
        }
    }
}
