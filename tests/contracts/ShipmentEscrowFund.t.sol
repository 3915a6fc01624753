// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ShipmentEscrow} from "../../contracts/ShipmentEscrow.sol";
import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";

contract ShipmentEscrowFundTest is EscrowTestBase {
    function test_fund_storesShipment() public {
        IShipmentEscrow.Terms memory terms = _terms();
        _fund(terms);

        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        assertEq(s.termsHash, escrow.hashTerms(terms));
        assertEq(s.buyer, buyer);
        assertEq(s.payee, payee);
        assertEq(s.amount, AMOUNT);
        assertEq(s.penaltyBpsPerMinute, terms.penaltyBpsPerMinute);
        assertEq(s.penaltyCapBps, terms.penaltyCapBps);
        assertEq(s.deadline, terms.deadline);
        assertEq(s.refundGrace, REFUND_GRACE);
        assertEq(s.disputeWindow, DISPUTE_WINDOW);
        assertEq(uint8(s.state), uint8(IShipmentEscrow.State.Funded));
        assertEq(s.attestedAt, 0);
        assertEq(s.payout, 0);
        assertEq(s.refund, 0);
        assertEq(address(escrow).balance, AMOUNT);
        assertEq(buyer.balance, 1000 ether - AMOUNT);
    }

    function test_fund_emitsShipmentFunded() public {
        IShipmentEscrow.Terms memory terms = _terms();
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentFunded(SHIPMENT_ID, escrow.hashTerms(terms), buyer, payee, ETH, AMOUNT);
        _fund(terms);
    }

    function test_fund_acceptsErc1271Payee() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        IShipmentEscrow.Terms memory terms = _terms();
        terms.payee = address(wallet);
        // The wallet's owner key signs; the escrow asks the wallet (ERC-1271), not ecrecover.
        _fund(terms);
        assertEq(escrow.shipment(SHIPMENT_ID).payee, address(wallet));
    }

    function test_fund_revertsIfErc1271PayeeRejects() public {
        ERC1271Wallet wallet = new ERC1271Wallet(stranger);
        IShipmentEscrow.Terms memory terms = _terms();
        terms.payee = address(wallet);
        _fundExpectRevert(
            terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidSignature.selector, address(wallet))
        );
    }

    function test_fund_revertsIfNotBuyer() public {
        IShipmentEscrow.Terms memory terms = _terms();
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.deal(stranger, AMOUNT);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNotBuyer.selector, stranger, buyer));
        escrow.fund{value: AMOUNT}(terms, buyerSig, payeeSig);
    }

    function test_fund_revertsOnToken() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.token = makeAddr("token");
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowUnsupportedToken.selector, terms.token));
    }

    function test_fund_revertsOnZeroAmount() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.amount = 0;
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowZeroAmount.selector));
    }

    function test_fund_revertsOnWrongValue() public {
        IShipmentEscrow.Terms memory terms = _terms();
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.startPrank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowWrongAmount.selector, AMOUNT, AMOUNT - 1));
        escrow.fund{value: AMOUNT - 1}(terms, buyerSig, payeeSig);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowWrongAmount.selector, AMOUNT, AMOUNT + 1));
        escrow.fund{value: AMOUNT + 1}(terms, buyerSig, payeeSig);
        vm.stopPrank();
    }

    function test_fund_revertsIfShipmentExists() public {
        IShipmentEscrow.Terms memory terms = _terms();
        _fund(terms);
        // Different terms under the same id are refused as well as the same terms again.
        terms.amount = 1 ether;
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowShipmentExists.selector, SHIPMENT_ID));
    }

    function test_fund_revertsOnZeroPayee() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.payee = address(0);
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidPayee.selector, address(0)));
    }

    function test_fund_revertsIfPayeeIsBuyer() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.payee = buyer;
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidPayee.selector, buyer));
    }

    function test_fund_revertsOnEmptyTemperatureBand() public {
        IShipmentEscrow.Terms memory terms = _terms();
        (terms.minTempCentiC, terms.maxTempCentiC) = (801, 800);
        _fundExpectRevert(
            terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidTemperatureBand.selector, int32(801), int32(800))
        );
    }

    function test_fund_acceptsSinglePointBandAndFullCap() public {
        IShipmentEscrow.Terms memory terms = _terms();
        (terms.minTempCentiC, terms.maxTempCentiC) = (-2000, -2000);
        terms.penaltyCapBps = 10_000;
        _fund(terms);
        assertEq(escrow.shipment(SHIPMENT_ID).penaltyCapBps, 10_000);
    }

    function test_fund_revertsOnPenaltyCapAboveWhole() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.penaltyCapBps = 10_001;
        _fundExpectRevert(
            terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidPenaltyCap.selector, uint32(10_001))
        );
    }

    function test_fund_revertsOnDeadlineNotInFuture() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.deadline = uint64(block.timestamp);
        _fundExpectRevert(terms, abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidDeadline.selector, terms.deadline));
    }

    function test_fund_revertsOnOverflowingDurations() public {
        IShipmentEscrow.Terms memory terms = _terms();
        terms.disputeWindow = type(uint64).max - terms.deadline - terms.refundGrace - terms.disputeTimeout;
        _fundExpectRevert(
            terms,
            abi.encodeWithSelector(
                IShipmentEscrow.EscrowInvalidDurations.selector,
                terms.deadline,
                terms.refundGrace,
                terms.disputeWindow,
                terms.disputeTimeout
            )
        );
        // One second less fits: every derived time stays below 2**64.
        terms.disputeWindow -= 1;
        _fund(terms);
    }

    function test_fund_revertsOnBuyerSignatureByOtherKey() public {
        IShipmentEscrow.Terms memory terms = _terms();
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidSignature.selector, buyer));
        escrow.fund{value: AMOUNT}(terms, payeeSig, payeeSig);
    }

    function test_fund_revertsOnPayeeSignatureOverOtherTerms() public {
        IShipmentEscrow.Terms memory terms = _terms();
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        IShipmentEscrow.Terms memory cheaper = _terms();
        cheaper.penaltyBpsPerMinute = 1;
        bytes memory payeeSig = _signTerms(cheaper, payeeKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidSignature.selector, payee));
        escrow.fund{value: AMOUNT}(terms, buyerSig, payeeSig);
    }

    function test_fund_revertsOnMalformedSignature() public {
        IShipmentEscrow.Terms memory terms = _terms();
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidSignature.selector, buyer));
        escrow.fund{value: AMOUNT}(terms, hex"dead", payeeSig);
    }

    function test_fund_revertsOnSignaturesForOtherEscrow() public {
        ShipmentEscrow other = new ShipmentEscrow(admin, traceAnchor);
        IShipmentEscrow.Terms memory terms = _terms();
        bytes memory buyerSig = _sign(buyerKey, other.termsDigest(terms));
        bytes memory payeeSig = _sign(payeeKey, other.termsDigest(terms));
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidSignature.selector, buyer));
        escrow.fund{value: AMOUNT}(terms, buyerSig, payeeSig);
    }

    function test_receive_rejectsPlainEth() public {
        vm.prank(buyer);
        (bool ok,) = address(escrow).call{value: 1 ether}("");
        assertFalse(ok);
    }
}
