// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {ExpectedSettlement} from "./utils/ExpectedSettlement.sol";

/// @dev The whole life cycle under random amounts, excursions and penalty parameters.
contract ShipmentEscrowFuzzTest is EscrowTestBase {
    function _fuzzTerms(uint256 amount, uint32 bpsPerMinute, uint32 capBps)
        internal
        returns (IShipmentEscrow.Terms memory terms)
    {
        terms = _terms();
        terms.amount = bound(amount, 1, type(uint256).max);
        terms.penaltyBpsPerMinute = bpsPerMinute;
        terms.penaltyCapBps = uint32(bound(capBps, 0, 10_000));
        vm.deal(buyer, terms.amount);
    }

    function testFuzz_attest_splitMatchesFormula(
        uint256 amount,
        uint32 excursionMinutes,
        uint32 bpsPerMinute,
        uint32 capBps
    ) public {
        IShipmentEscrow.Terms memory terms = _fuzzTerms(amount, bpsPerMinute, capBps);
        _fundAndAttest(terms, excursionMinutes);

        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        uint256 bps = ExpectedSettlement.penaltyBps(excursionMinutes, terms.penaltyBpsPerMinute, terms.penaltyCapBps);
        assertEq(s.payout + s.refund, terms.amount);
        assertEq(s.payout, terms.amount - ExpectedSettlement.penalty(terms.amount, bps));
        assertEq(s.refund, ExpectedSettlement.penalty(terms.amount, bps));
    }

    function testFuzz_settle_everyWeiReachesBuyerOrPayee(
        uint256 amount,
        uint32 excursionMinutes,
        uint32 bpsPerMinute,
        uint32 capBps
    ) public {
        IShipmentEscrow.Terms memory terms = _fuzzTerms(amount, bpsPerMinute, capBps);
        _fundAndAttest(terms, excursionMinutes);
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow.settle(SHIPMENT_ID);

        uint256 payeeOwed = escrow.owed(ETH, payee);
        uint256 buyerOwed = escrow.owed(ETH, buyer);
        assertEq(payeeOwed + buyerOwed, terms.amount);
        if (payeeOwed != 0) {
            vm.prank(payee);
            escrow.withdraw(ETH);
        }
        if (buyerOwed != 0) {
            vm.prank(buyer);
            escrow.withdraw(ETH);
        }
        assertEq(payee.balance, payeeOwed);
        assertEq(buyer.balance, buyerOwed);
        assertEq(address(escrow).balance, 0);
    }

    function testFuzz_refund_returnsWholeAmount(uint256 amount, uint64 refundGrace, uint64 lateBy) public {
        IShipmentEscrow.Terms memory terms = _fuzzTerms(amount, 10, 3000);
        terms.refundGrace = uint64(bound(refundGrace, 0, 365 days));
        _fund(terms);
        vm.warp(uint256(terms.deadline) + terms.refundGrace + bound(lateBy, 1, 365 days));
        escrow.refund(SHIPMENT_ID);
        vm.prank(buyer);
        escrow.withdraw(ETH);
        assertEq(buyer.balance, terms.amount);
        assertEq(address(escrow).balance, 0);
    }

    function testFuzz_attest_onlyOracleKeys(uint256 signerKey) public {
        signerKey = bound(signerKey, 1, SECP256K1_ORDER - 1);
        vm.assume(signerKey != oracleKey);
        IShipmentEscrow.Terms memory terms = _terms();
        _fund(terms);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 0);
        bytes memory sig = _signAttestation(a, signerKey);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotOracle.selector, vm.addr(signerKey)));
        escrow.attest(a, sig);
    }
}
