// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {Settlement} from "../../../contracts/libraries/Settlement.sol";
import {ExpectedSettlement} from "../utils/ExpectedSettlement.sol";

contract SettlementTest is Test {
    function test_split_noExcursionPaysEverything() public pure {
        (uint256 payout, uint256 refund) = Settlement.split(5 ether, 0, 100, 10_000);
        assertEq(payout, 5 ether);
        assertEq(refund, 0);
    }

    function test_split_linearBelowCap() public pure {
        // 7 minutes * 25 bps = 175 bps of 1 ETH.
        (uint256 payout, uint256 refund) = Settlement.split(1 ether, 7, 25, 5000);
        assertEq(refund, 0.0175 ether);
        assertEq(payout, 0.9825 ether);
    }

    function test_split_stopsAtCap() public pure {
        (uint256 payout, uint256 refund) = Settlement.split(1 ether, 1000, 25, 5000);
        assertEq(refund, 0.5 ether);
        assertEq(payout, 0.5 ether);
    }

    function test_split_fullCapRefundsEverything() public pure {
        (uint256 payout, uint256 refund) = Settlement.split(3 wei, type(uint32).max, type(uint32).max, 10_000);
        assertEq(payout, 0);
        assertEq(refund, 3 wei);
    }

    function test_split_roundsPenaltyDown() public pure {
        // 9999 wei * 1 bps = 0.9999 wei of penalty, rounded down to 0: the payee keeps the dust.
        (uint256 payout, uint256 refund) = Settlement.split(9999, 1, 1, 10_000);
        assertEq(refund, 0);
        assertEq(payout, 9999);
    }

    function test_split_exactForLargestAmount() public pure {
        uint256 amount = type(uint256).max;
        (uint256 payout, uint256 refund) = Settlement.split(amount, 1, 3333, 10_000);
        assertEq(refund, ExpectedSettlement.penalty(amount, 3333));
        assertEq(payout + refund, amount);
    }

    function testFuzz_split_matchesFormula(uint256 amount, uint32 minutes_, uint32 bpsPerMinute, uint32 capBps)
        public
        pure
    {
        capBps = uint32(bound(capBps, 0, 10_000));
        (uint256 payout, uint256 refund) = Settlement.split(amount, minutes_, bpsPerMinute, capBps);

        uint256 bps = ExpectedSettlement.penaltyBps(minutes_, bpsPerMinute, capBps);
        assertEq(refund, ExpectedSettlement.penalty(amount, bps));
        assertEq(payout, amount - ExpectedSettlement.penalty(amount, bps));
        assertEq(payout + refund, amount);
        assertLe(refund, ExpectedSettlement.penalty(amount, capBps));
    }
}
