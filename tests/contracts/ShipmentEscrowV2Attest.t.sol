// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";

/// @dev attest: the terms' oracle, times, bases, and the penalty computed on chain.
contract ShipmentEscrowV2AttestTest is EscrowV2TestBase {
    function _expectAttestRevert(
        IShipmentEscrowV2.Terms memory t,
        IShipmentEscrowV2.DeliveryAttestation memory a,
        bytes memory revertData
    ) internal {
        bytes memory sig = _signAttestation(a);
        vm.expectRevert(revertData);
        escrow2.attest(t, a, sig);
    }

    function test_attest_storesSplitAndOpensDisputeWindow() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 100);
        a.shockCount = 2;
        // 100 min x 10 + 2 shocks x 50 = 1100 bps.
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.DeliveryAttested(SHIPMENT_ID, a.evidenceRoot, a.deliveredAt, 0, 1100, 8.9 ether, 1.1 ether);
        _attest(t, a);
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrowV2.State.Attested));
        assertEq(s.payout, 8.9 ether);
        assertEq(s.refund, 1.1 ether);
        assertEq(s.attestedAt, block.timestamp);
        assertEq(s.windowStart, a.windowStart);
        assertEq(s.deliveredAt, a.deliveredAt);
        assertEq(s.evidenceRoot, a.evidenceRoot);
    }

    function test_attest_penaltyStopsAtCap() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, type(uint32).max);
        a.shockCount = type(uint32).max;
        _attest(t, a);
        assertEq(escrow2.shipment(SHIPMENT_ID).refund, 3 ether);
    }

    function test_attest_lateHoursRoundUp() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline + 2 hours);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.deliveredAt = t.deadline + 3601; // 2 started hours x 20 bps
        _attest(t, a);
        assertEq(escrow2.shipment(SHIPMENT_ID).refund, AMOUNT * 40 / 10_000);
    }

    function test_attest_oneSecondLateIsOneHour() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline + 1);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        _attest(t, a);
        assertEq(escrow2.shipment(SHIPMENT_ID).refund, AMOUNT * 20 / 10_000);
    }

    function test_attest_onTimeHasNoLatePenalty() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline + 10 hours);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.deliveredAt = t.deadline;
        a.windowStart = t.deadline - 1 days;
        _attest(t, a);
        assertEq(escrow2.shipment(SHIPMENT_ID).refund, 0);
        assertEq(escrow2.shipment(SHIPMENT_ID).payout, AMOUNT);
    }

    function test_attest_acceptsLastSecondOfWindow() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace);
        _attest(t, _attestation(t, 0));
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrowV2.State.Attested));
    }

    function test_attest_revertsAfterAttestationWindow() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        uint256 expiredAt = uint256(t.deadline) + t.refundGrace;
        vm.warp(expiredAt + 1);
        _expectAttestRevert(
            t,
            _attestation(t, 0),
            abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2AttestationExpired.selector, expiredAt)
        );
    }

    function test_attest_revertsIfUnknownShipment() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _expectAttestRevert(t, _attestation(t, 0), _invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.None));
    }

    function test_attest_revertsWhenAttestedTwice() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        IShipmentEscrowV2.DeliveryAttestation memory a = _fundAndAttest(t, 0);
        _expectAttestRevert(t, a, _invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Attested));
    }

    function test_attest_revertsOnAlteredTerms() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        IShipmentEscrowV2.Terms memory altered = _terms();
        altered.penaltyBpsPerMinute = 1;
        bytes memory sig = _signAttestation(a);
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2TermsMismatch.selector);
        escrow2.attest(altered, a, sig);
    }

    function test_attest_revertsOnAttestationOfOtherTerms() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.termsHash = keccak256("other");
        _expectAttestRevert(
            t,
            a,
            abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2TermsMismatch.selector, escrow2.hashTerms(t), a.termsHash)
        );
    }

    function test_attest_revertsOnAttestationForOtherShipment() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.shipmentId = keccak256("other");
        _expectAttestRevert(
            t, a, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2ShipmentMismatch.selector, SHIPMENT_ID, a.shipmentId)
        );
    }

    /// @dev Another ORACLE_ROLE holder (here the admin, who granted itself the role) cannot attest
    /// a shipment whose terms name a different oracle.
    function test_attest_revertsIfSignedByOtherOracle() public {
        (address other, uint256 otherKey) = makeAddrAndKey("other-oracle");
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        vm.prank(admin);
        escrow2.grantRole(oracleRole, other);
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        bytes memory sig = _sign(otherKey, escrow2.attestationDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, oracle));
        escrow2.attest(t, a, sig);
    }

    function test_attest_revertsOnMalformedSignature() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, oracle));
        escrow2.attest(t, a, hex"1234");
    }

    function test_attest_revertsOnAlteredExcursionMinutes() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 100);
        bytes memory sig = _signAttestation(a);
        a.excursionMinutes = 0;
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, oracle));
        escrow2.attest(t, a, sig);
    }

    function test_attest_revertsAfterOracleRoleRevoked() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        vm.prank(admin);
        escrow2.revokeRole(oracleRole, oracle);
        vm.warp(block.timestamp + 1 days);
        _expectAttestRevert(
            t, _attestation(t, 0), abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2OracleInactive.selector, oracle)
        );
    }

    function test_attest_revertsWhileOraclePaused() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.prank(guardian);
        escrow2.setOraclePaused(oracle, true);
        vm.warp(block.timestamp + 1 days);
        _expectAttestRevert(
            t, _attestation(t, 0), abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2OracleInactive.selector, oracle)
        );
    }

    function test_attest_acceptsRotatedKeyOfErc1271Oracle() public {
        (address key1, uint256 key1Pk) = makeAddrAndKey("oracle-key-1");
        ERC1271Wallet wallet = new ERC1271Wallet(key1);
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        vm.prank(admin);
        escrow2.grantRole(oracleRole, address(wallet));
        IShipmentEscrowV2.Terms memory t = _terms();
        t.oracle = address(wallet);
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        escrow2.attest(t, a, _sign(key1Pk, escrow2.attestationDigest(a)));
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrowV2.State.Attested));
    }

    function test_attest_revertsOnDeliveryInFuture() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.deliveredAt = uint64(block.timestamp) + 1;
        _expectAttestRevert(
            t,
            a,
            abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidDeliveryTime.selector, a.windowStart, a.deliveredAt)
        );
    }

    function test_attest_revertsOnWindowStartAfterDelivery() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.windowStart = a.deliveredAt + 1;
        _expectAttestRevert(
            t,
            a,
            abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidDeliveryTime.selector, a.windowStart, a.deliveredAt)
        );
    }

    function test_attest_revertsOnUnknownBasis() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.deliveryBasis = 2;
        _expectAttestRevert(t, a, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidDeliveryBasis.selector, 2));
    }

    function test_attest_arrivalAcceptedOnceDwellAndAutoAcceptPassed() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.deliveryBasis = 1;
        uint256 acceptableAt = uint256(a.deliveredAt) + uint256(DWELL_MINUTES) * 60 + AUTO_ACCEPT;
        vm.warp(acceptableAt - 1);
        _expectAttestRevert(
            t, a, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2ArrivalNotAcceptable.selector, acceptableAt)
        );
        vm.warp(acceptableAt);
        _attest(t, a);
        assertEq(escrow2.shipment(SHIPMENT_ID).deliveredAt, a.deliveredAt);
    }

    function test_attest_revertsOnArrivalWithoutAutoAccept() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.autoAcceptAfter = 0;
        _fund(t);
        vm.warp(block.timestamp + 2 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 0);
        a.deliveryBasis = 1;
        _expectAttestRevert(
            t, a, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2ArrivalNotAcceptable.selector, type(uint256).max)
        );
    }

    function test_attest_revertsAfterRefund() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        escrow2.refund(SHIPMENT_ID);
        _expectAttestRevert(t, _attestation(t, 0), _invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Refunded));
    }
}
