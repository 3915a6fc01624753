// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/**
 * @title Settlement
 * @notice The settlement arithmetic of docs/formats.md, version 1 (consensus-critical: the
 * settlement worker computes the same split off chain).
 */
library Settlement {
    /// @notice Basis points in a whole.
    uint256 internal constant BPS = 10_000;

    /**
     * @notice Splits `amount` into the payee's payout and the buyer's refund.
     * @dev penaltyBps = min(excursionMinutes * penaltyBpsPerMinute, penaltyCapBps);
     * refund = floor(amount * penaltyBps / 10000); payout = amount - refund. Callers ensure
     * `penaltyCapBps <= 10000`, so refund <= amount. mulDiv keeps amount * penaltyBps exact
     * for amounts near 2**256.
     */
    function split(uint256 amount, uint32 excursionMinutes, uint32 penaltyBpsPerMinute, uint32 penaltyCapBps)
        internal
        pure
        returns (uint256 payout, uint256 refund)
    {
        // Two uint32 factors cannot overflow uint256.
        uint256 penaltyBps = Math.min(uint256(excursionMinutes) * penaltyBpsPerMinute, penaltyCapBps);
        refund = Math.mulDiv(amount, penaltyBps, BPS);
        payout = amount - refund;
    }
}
