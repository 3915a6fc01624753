// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/**
 * @title SettlementV2
 * @notice The settlement arithmetic of docs/formats.md, escrow v2 (consensus-critical: core
 * computes the same split off chain).
 */
library SettlementV2 {
    /// @notice Basis points in a whole.
    uint256 internal constant BPS = 10_000;

    /// @notice Seconds in a late hour.
    uint256 internal constant HOUR = 3600;

    /**
     * @notice Started hours of lateness: ceil((deliveredAt - deadline) / 3600) when
     * `deliveredAt > deadline`, else 0.
     */
    function lateHours(uint64 deliveredAt, uint64 deadline) internal pure returns (uint256) {
        if (deliveredAt <= deadline) return 0;
        return Math.ceilDiv(uint256(deliveredAt) - deadline, HOUR);
    }

    /**
     * @notice penaltyBps = min(cap, excursionMinutes * bpsPerMinute + shocks * bpsPerShock +
     * lateHours * bpsPerLateHour), summed in uint256 (each product of a uint32 and a value below
     * 2**64 fits; the sum cannot overflow).
     */
    function penaltyBps(
        uint256 excursionMinutes,
        uint256 shocks,
        uint256 late,
        uint256 bpsPerMinute,
        uint256 bpsPerShock,
        uint256 bpsPerLateHour,
        uint256 capBps
    ) internal pure returns (uint256) {
        return Math.min(excursionMinutes * bpsPerMinute + shocks * bpsPerShock + late * bpsPerLateHour, capBps);
    }

    /**
     * @notice Splits `amount`: refund = floor(amount * bps / 10000) to the buyer, payout = amount -
     * refund to the payee. Callers ensure `bps <= 10000`; mulDiv keeps the product exact.
     */
    function split(uint256 amount, uint256 bps) internal pure returns (uint256 payout, uint256 refund) {
        refund = Math.mulDiv(amount, bps, BPS);
        payout = amount - refund;
    }
}
