// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {SettlementV2} from "../../contracts/libraries/SettlementV2.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";

/// @dev The v2 penalty arithmetic over its whole input range, alone and through attest.
contract ShipmentEscrowV2FuzzTest is EscrowV2TestBase {
    function testFuzz_split_addsUpAndStaysUnderCap(
        uint256 amount,
        uint32 minutes_,
        uint32 shocks,
        uint64 late,
        uint32 perMinute,
        uint32 perShock,
        uint32 perHour,
        uint32 cap
    ) public pure {
        cap = uint32(bound(cap, 0, 10_000));
        uint256 bps = SettlementV2.penaltyBps(minutes_, shocks, late, perMinute, perShock, perHour, cap);
        assertLe(bps, cap);
        uint256 uncapped = uint256(minutes_) * perMinute + uint256(shocks) * perShock + uint256(late) * perHour;
        assertEq(bps, uncapped < cap ? uncapped : cap);
        (uint256 payout, uint256 refund) = SettlementV2.split(amount, bps);
        assertEq(payout + refund, amount);
        assertEq(refund, Math.mulDiv(amount, bps, 10_000));
        assertLe(refund, Math.mulDiv(amount, cap, 10_000));
    }

    function testFuzz_lateHours_areStartedHours(uint64 deliveredAt, uint64 deadline) public pure {
        uint256 late = SettlementV2.lateHours(deliveredAt, deadline);
        if (deliveredAt <= deadline) {
            assertEq(late, 0);
        } else {
            uint256 secondsLate = uint256(deliveredAt) - deadline;
            assertGe(late * 3600, secondsLate);
            assertLt((late - 1) * 3600, secondsLate);
        }
    }

    /// forge-config: ci.fuzz.runs = 2000
    function testFuzz_attest_splitAddsUpToDeposit(
        uint256 amount,
        uint32 minutes_,
        uint32 shocks,
        uint32 perMinute,
        uint32 perShock,
        uint32 perHour,
        uint32 cap,
        uint64 lateSeconds
    ) public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.amount = bound(amount, 1, 1e30);
        t.penaltyBpsPerMinute = perMinute;
        t.penaltyBpsPerShock = perShock;
        t.penaltyBpsPerLateHour = perHour;
        t.penaltyCapBps = uint32(bound(cap, 0, 10_000));
        _fund(t);
        uint64 deliveredAt = t.deadline - 1 hours + uint64(bound(lateSeconds, 0, t.refundGrace));
        vm.warp(uint256(t.deadline) + t.refundGrace);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, minutes_);
        a.shockCount = shocks;
        a.deliveredAt = deliveredAt;
        a.windowStart = deliveredAt - 1 days;
        _attest(t, a);
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(s.payout + s.refund, t.amount);
        uint256 bps = SettlementV2.penaltyBps(
            minutes_, shocks, SettlementV2.lateHours(deliveredAt, t.deadline), perMinute, perShock, perHour, t.penaltyCapBps
        );
        assertEq(s.refund, Math.mulDiv(t.amount, bps, 10_000));
        assertLe(s.refund, Math.mulDiv(t.amount, t.penaltyCapBps, 10_000));
    }

    /// forge-config: ci.fuzz.runs = 2000
    function testFuzz_mutualRelease_anyPayoutAddsUp(uint256 amount, uint256 payout) public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.amount = bound(amount, 1, 1e30);
        _fund(t);
        payout = bound(payout, 0, t.amount);
        _release(SHIPMENT_ID, payout, buyerKey, payeeKey);
        assertEq(escrow2.owed(ETH, payee) + escrow2.owed(ETH, buyer), t.amount);
        assertEq(escrow2.owed(ETH, payee), payout);
    }
}
