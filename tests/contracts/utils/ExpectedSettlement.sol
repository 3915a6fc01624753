// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev docs/formats.md's settlement arithmetic restated for tests, without the contract's mulDiv.
library ExpectedSettlement {
    /// @dev min(excursionMinutes * penaltyBpsPerMinute, penaltyCapBps).
    function penaltyBps(uint32 excursionMinutes, uint32 penaltyBpsPerMinute, uint32 penaltyCapBps)
        internal
        pure
        returns (uint256)
    {
        uint256 uncapped = uint256(excursionMinutes) * penaltyBpsPerMinute;
        return uncapped < penaltyCapBps ? uncapped : penaltyCapBps;
    }

    /// @dev floor(amount * bps / 10000) without a 512-bit product: with amount = q * 10000 + r it is
    /// exactly q * bps + floor(r * bps / 10000), and neither term overflows for bps <= 10000.
    function penalty(uint256 amount, uint256 bps) internal pure returns (uint256) {
        // forge-lint: disable-next-line(divide-before-multiply)
        return (amount / 10_000) * bps + ((amount % 10_000) * bps) / 10_000;
    }
}
