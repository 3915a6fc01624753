// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";

/// @dev What the admin, the guardian and other oracles cannot do (docs/escrow.md's trust table
/// names these tests), and how an oracle's suspension only delays.
contract ShipmentEscrowV2TrustTest is EscrowV2TestBase {
    function _grantOracle(address account) internal {
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        vm.prank(admin);
        escrow2.grantRole(oracleRole, account);
    }

    function _revokeOracle(address account) internal {
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        vm.prank(admin);
        escrow2.revokeRole(oracleRole, account);
    }

    function _pause(bool paused) internal {
        vm.prank(guardian);
        escrow2.setOraclePaused(oracle, paused);
    }

    // ---------------------------------------------------------------- the admin cannot

    /// @dev Holding every role, the admin still cannot take, release or refund a deposit.
    function test_admin_cannotMoveDeposit() public {
        (address adminEoa, uint256 key) = makeAddrAndKey("admin");
        assertEq(adminEoa, admin);
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        bytes32 guardianRole = escrow2.GUARDIAN_ROLE();
        vm.startPrank(admin);
        escrow2.grantRole(guardianRole, admin);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NothingOwed.selector, admin, ETH));
        escrow2.withdraw(ETH);
        vm.expectRevert(
            abi.encodeWithSelector(
                IShipmentEscrowV2.EscrowV2NotRefundable.selector, uint256(t.deadline) + t.refundGrace + 1
            )
        );
        escrow2.refund(SHIPMENT_ID);
        vm.stopPrank();
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, 0);
        bytes memory sig = _sign(key, digest);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, buyer));
        escrow2.mutualRelease(SHIPMENT_ID, 0, sig, sig);
        assertEq(address(escrow2).balance, AMOUNT);
        assertEq(escrow2.totalOwed(ETH), 0);
    }

    /// @dev The admin can make itself an oracle, but the terms name theirs: it cannot choose a split
    /// by attesting, nor by resolving a dispute (only the terms' arbiter can).
    function test_admin_cannotChooseSplit() public {
        (, uint256 key) = makeAddrAndKey("admin");
        _grantOracle(admin);
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 3000);
        bytes memory sig = _sign(key, escrow2.attestationDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, oracle));
        escrow2.attest(t, a, sig);
        _attest(t, _attestation(t, 0));
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NotArbiter.selector, admin, arbiter));
        escrow2.resolveDispute(SHIPMENT_ID, 0);
    }

    /// @dev Revoking the terms' oracle and granting another does not put the new one into the
    /// funded shipment: terms naming it do not hash to the funded terms, and its signature under
    /// the funded terms is refused.
    function test_admin_cannotSwapOracleOfFundedShipment() public {
        (address next, uint256 nextKey) = makeAddrAndKey("next-oracle");
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        _revokeOracle(oracle);
        _grantOracle(next);
        vm.warp(block.timestamp + 1 days);

        IShipmentEscrowV2.Terms memory swapped = _terms();
        swapped.oracle = next;
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(swapped, 0);
        bytes memory sig = _sign(nextKey, escrow2.attestationDigest(a));
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2TermsMismatch.selector);
        escrow2.attest(swapped, a, sig);

        a = _attestation(t, 0);
        sig = _sign(nextKey, escrow2.attestationDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2OracleInactive.selector, oracle));
        escrow2.attest(t, a, sig);
        assertEq(escrow2.shipment(SHIPMENT_ID).oracle, oracle);
    }

    /// @dev Revoking the oracle would once let every deposit refund; now it freezes the refund time.
    function test_admin_revokingOracleCannotTriggerRefund() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline - 1 hours);
        _revokeOracle(oracle);
        vm.warp(uint256(t.deadline) + t.refundGrace + 30 days);
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2NotRefundable.selector);
        escrow2.refund(SHIPMENT_ID);
        // Granted again, the oracle has the hour it had left.
        _grantOracle(oracle);
        vm.warp(block.timestamp + t.refundGrace + 1 hours - 1);
        _attest(t, _attestation(t, 0));
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrowV2.State.Attested));
    }

    // ---------------------------------------------------------------- the guardian

    function test_setOraclePaused_emitsAndTracksSuspension() public {
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.OraclePauseSet(oracle, guardian, true);
        _pause(true);
        assertTrue(escrow2.isOraclePaused(oracle));
        vm.warp(block.timestamp + 100);
        assertEq(escrow2.oracleSuspendedSeconds(oracle), 100);
        _pause(false);
        vm.warp(block.timestamp + 50);
        assertEq(escrow2.oracleSuspendedSeconds(oracle), 100);
        assertFalse(escrow2.isOraclePaused(oracle));
    }

    function test_setOraclePaused_revertsIfNotGuardian() public {
        bytes32 guardianRole = escrow2.GUARDIAN_ROLE();
        vm.prank(admin);
        vm.expectRevert(_unauthorized(admin, guardianRole));
        escrow2.setOraclePaused(oracle, true);
    }

    function test_setOraclePaused_revertsIfUnchanged() public {
        vm.prank(guardian);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2PauseUnchanged.selector, oracle, false));
        escrow2.setOraclePaused(oracle, false);
    }

    /// @dev A pause across the attestation deadline moves it (and the refund) by the paused time:
    /// the buyer cannot refund during the pause, and the oracle attests afterwards.
    function test_guardian_pauseOnlyDelays() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        uint256 original = uint256(t.deadline) + t.refundGrace;
        vm.warp(original - 1 hours);
        _pause(true);
        vm.warp(original + 3 days);
        assertEq(escrow2.attestationDeadline(SHIPMENT_ID), original + 3 days + 1 hours);
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2NotRefundable.selector);
        escrow2.refund(SHIPMENT_ID);
        _pause(false);
        assertEq(escrow2.attestationDeadline(SHIPMENT_ID), original + 3 days + 1 hours);
        vm.warp(original + 3 days + 1 hours);
        _attest(t, _attestation(t, 0));
        // Delivered 97 started hours late (20 bps each): the late penalty, not a refund.
        assertEq(escrow2.shipment(SHIPMENT_ID).refund, AMOUNT * 97 * 20 / 10_000);
    }

    /// @dev A pause after the attestation deadline does not reopen it nor hold up the refund.
    function test_guardian_pauseAfterDeadlineCannotBlockRefund() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        _pause(true);
        vm.warp(block.timestamp + 5 days);
        escrow2.refund(SHIPMENT_ID);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT);
    }

    /// @dev Suspensions before funding do not count for the shipment.
    function test_guardian_pauseBeforeFundingDoesNotExtend() public {
        _pause(true);
        vm.warp(block.timestamp + 1 days);
        _pause(false);
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        assertEq(escrow2.attestationDeadline(SHIPMENT_ID), uint256(t.deadline) + t.refundGrace);
    }

    /// @dev With the oracle paused, a dispute from the deadline still settles (the arbiter decides).
    function test_guardian_pausedOracleDisputeStillSettles() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        _pause(true);
        vm.warp(t.deadline);
        vm.prank(payee);
        escrow2.openDispute(SHIPMENT_ID);
        vm.prank(arbiter);
        escrow2.resolveDispute(SHIPMENT_ID, 6 ether);
        assertEq(escrow2.owed(ETH, payee), 6 ether);
        assertEq(escrow2.owed(ETH, buyer), 4 ether);
    }
}
