// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";

contract ShipmentEscrowAttestTest is EscrowTestBase {
    IShipmentEscrow.Terms internal terms;

    function setUp() public override {
        super.setUp();
        terms = _terms();
        _fund(terms);
        vm.warp(block.timestamp + 1 days);
    }

    function _attestExpectRevert(IShipmentEscrow.DeliveryAttestation memory a, uint256 key, bytes memory err) internal {
        bytes memory sig = _signAttestation(a, key);
        vm.expectRevert(err);
        escrow.attest(a, sig);
    }

    function test_attest_storesSplitAndOpensDisputeWindow() public {
        // 120 minutes at 10 bps/minute = 1200 bps: 12% of 10 ETH goes back to the buyer.
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 120);
        bytes memory sig = _signAttestation(a, oracleKey);
        vm.prank(stranger);
        escrow.attest(a, sig);

        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrow.State.Attested));
        assertEq(s.attestedAt, block.timestamp);
        assertEq(s.refund, 1.2 ether);
        assertEq(s.payout, 8.8 ether);
        assertEq(escrow.owed(ETH, payee), 0, "nothing owed before settle");
    }

    function test_attest_emitsDeliveryAttested() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 500);
        bytes memory sig = _signAttestation(a, oracleKey);
        // 500 minutes * 10 bps exceeds the 3000 bps cap.
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.DeliveryAttested(SHIPMENT_ID, a.evidenceRoot, 500, a.deliveredAt, 7 ether, 3 ether, oracle);
        escrow.attest(a, sig);
    }

    function test_attest_acceptsLastSecondOfWindow() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        a.deliveredAt = terms.deadline;
        vm.warp(terms.deadline + REFUND_GRACE);
        escrow.attest(a, _signAttestation(a, oracleKey));
        assertEq(escrow.shipment(SHIPMENT_ID).payout, AMOUNT);
    }

    function test_attest_revertsIfUnknownShipment() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        a.shipmentId = keccak256("unknown");
        _attestExpectRevert(a, oracleKey, _invalidState(a.shipmentId, IShipmentEscrow.State.None));
    }

    function test_attest_revertsOnReplay() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        bytes memory sig = _signAttestation(a, oracleKey);
        escrow.attest(a, sig);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Attested));
        escrow.attest(a, sig);
    }

    function test_attest_revertsIfSettled() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        bytes memory sig = _signAttestation(a, oracleKey);
        escrow.attest(a, sig);
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow.settle(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Settled));
        escrow.attest(a, sig);
    }

    function test_attest_revertsAfterRefund() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        vm.warp(terms.deadline + REFUND_GRACE + 1);
        escrow.refund(SHIPMENT_ID);
        _attestExpectRevert(a, oracleKey, _invalidState(SHIPMENT_ID, IShipmentEscrow.State.Refunded));
    }

    function test_attest_revertsIfSignerNotOracle() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        _attestExpectRevert(a, payeeKey, abi.encodeWithSelector(IShipmentEscrow.EscrowNotOracle.selector, payee));
    }

    function test_attest_revertsAfterOracleRoleRevoked() public {
        bytes32 role = escrow.ORACLE_ROLE();
        vm.prank(admin);
        escrow.revokeRole(role, oracle);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        _attestExpectRevert(a, oracleKey, abi.encodeWithSelector(IShipmentEscrow.EscrowNotOracle.selector, oracle));
    }

    function test_attest_revertsOnMalformedSignature() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotOracle.selector, address(0)));
        escrow.attest(a, hex"0102");
    }

    function test_attest_revertsOnAlteredExcursionMinutes() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 90);
        bytes memory sig = _signAttestation(a, oracleKey);
        a.excursionMinutes = 0;
        // The oracle's signature over 90 minutes recovers to some other account for 0 minutes.
        address recovered = ECDSA.recover(escrow.attestationDigest(a), sig);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotOracle.selector, recovered));
        escrow.attest(a, sig);
    }

    function test_attest_revertsOnTermsMismatch() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        bytes32 funded = a.termsHash;
        a.termsHash = keccak256("other terms");
        _attestExpectRevert(
            a, oracleKey, abi.encodeWithSelector(IShipmentEscrow.EscrowTermsMismatch.selector, funded, a.termsHash)
        );
    }

    function test_attest_revertsOnLateDelivery() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        a.deliveredAt = terms.deadline + 1;
        vm.warp(terms.deadline + 2);
        _attestExpectRevert(
            a,
            oracleKey,
            abi.encodeWithSelector(IShipmentEscrow.EscrowLateDelivery.selector, a.deliveredAt, terms.deadline)
        );
    }

    function test_attest_revertsOnDeliveryInFuture() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        a.deliveredAt = uint64(block.timestamp + 1);
        _attestExpectRevert(
            a,
            oracleKey,
            abi.encodeWithSelector(
                IShipmentEscrow.EscrowDeliveryInFuture.selector, a.deliveredAt, uint64(block.timestamp)
            )
        );
    }

    function test_attest_revertsAfterAttestationWindow() public {
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        uint64 expiredAt = terms.deadline + REFUND_GRACE;
        vm.warp(expiredAt + 1);
        _attestExpectRevert(
            a, oracleKey, abi.encodeWithSelector(IShipmentEscrow.EscrowAttestationExpired.selector, expiredAt)
        );
    }

    function test_attest_attestationForOneShipmentIsUselessForAnother() public {
        IShipmentEscrow.Terms memory second = _terms();
        second.shipmentId = keccak256("shipment-2");
        _fund(second);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        bytes memory sig = _signAttestation(a, oracleKey);
        // Moving it to the other shipment fails on the terms hash first, as that hash names the id.
        a.shipmentId = second.shipmentId;
        vm.expectRevert(
            abi.encodeWithSelector(
                IShipmentEscrow.EscrowTermsMismatch.selector, escrow.hashTerms(second), escrow.hashTerms(terms)
            )
        );
        escrow.attest(a, sig);
    }
}
