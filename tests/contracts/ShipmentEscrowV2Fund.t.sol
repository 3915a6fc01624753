// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";
import {FeeOnTransferToken, TestToken} from "./utils/tokens/TestTokens.sol";

/// @dev fund: who signs, the bounds on terms, tokens.
contract ShipmentEscrowV2FundTest is EscrowV2TestBase {
    function test_fund_storesShipmentAndEmits() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.ShipmentFunded(SHIPMENT_ID, escrow2.hashTerms(t), buyer, payee, ETH, AMOUNT);
        _fund(t);
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrowV2.State.Funded));
        assertEq(s.termsHash, escrow2.hashTerms(t));
        assertEq(s.amount, AMOUNT);
        assertEq(s.carrier, carrier);
        assertEq(s.oracle, oracle);
        assertEq(s.devicesRoot, t.devicesRoot);
        assertEq(s.fundedAt, block.timestamp);
        assertEq(address(escrow2).balance, AMOUNT);
        assertEq(escrow2.attestationDeadline(SHIPMENT_ID), uint256(t.deadline) + t.refundGrace);
    }

    function test_fund_revertsIfNotBuyer() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.deal(payee, AMOUNT);
        vm.prank(payee);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NotBuyer.selector, payee, buyer));
        escrow2.fund{value: AMOUNT}(t, b, p, c);
    }

    function test_fund_revertsWithoutCarrierSignature() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, buyerKey); // the buyer signing for the carrier
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, carrier));
        escrow2.fund{value: AMOUNT}(t, b, p, c);
    }

    function test_fund_revertsOnPayeeSignatureByBuyerKey() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, payee));
        escrow2.fund{value: AMOUNT}(t, b, b, c);
    }

    function test_fund_revertsOnBuyerSignatureOverOtherTerms() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        IShipmentEscrowV2.Terms memory other = _terms();
        other.amount = 1;
        bytes memory b = _signTerms(other, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, buyer));
        escrow2.fund{value: AMOUNT}(t, b, p, c);
    }

    function test_fund_carrierIsPayeeNeedsOneSignature() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.carrier = payee;
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        vm.prank(buyer);
        escrow2.fund{value: AMOUNT}(t, b, p, "");
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrowV2.State.Funded));
    }

    function test_fund_acceptsErc1271PartiesAndOracle() public {
        ERC1271Wallet payeeWallet = new ERC1271Wallet(payee);
        ERC1271Wallet carrierWallet = new ERC1271Wallet(carrier);
        IShipmentEscrowV2.Terms memory t = _terms();
        t.payee = address(payeeWallet);
        t.carrier = address(carrierWallet);
        _fund(t);
        assertEq(escrow2.shipment(SHIPMENT_ID).payee, address(payeeWallet));
    }

    function test_fund_revertsIfErc1271CarrierRejects() public {
        ERC1271Wallet carrierWallet = new ERC1271Wallet(stranger);
        IShipmentEscrowV2.Terms memory t = _terms();
        t.carrier = address(carrierWallet);
        _fundExpectRevert(
            t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, address(carrierWallet))
        );
    }

    function test_fund_revertsAfterFundBy() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        vm.warp(t.fundBy + 1);
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2FundingClosed.selector, t.fundBy));
    }

    function test_fund_acceptsAtFundBy() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        vm.warp(t.fundBy);
        _fund(t);
    }

    function test_fund_revertsIfOracleLacksRole() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.oracle = stranger;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2OracleInactive.selector, stranger));
    }

    function test_fund_revertsIfOraclePaused() public {
        vm.prank(guardian);
        escrow2.setOraclePaused(oracle, true);
        _fundExpectRevert(_terms(), abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2OracleInactive.selector, oracle));
    }

    function test_fund_revertsIfShipmentExists() public {
        _fund(_terms());
        _fundExpectRevert(
            _terms(), abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2ShipmentExists.selector, SHIPMENT_ID)
        );
    }

    function test_fund_revertsIfPayeeIsBuyerOrZero() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.payee = buyer;
        _fundExpectRevertSelector(t, (IShipmentEscrowV2.EscrowV2InvalidParties.selector));
        t = _terms();
        t.payee = address(0);
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        vm.expectPartialRevert(IShipmentEscrowV2.EscrowV2InvalidParties.selector);
        escrow2.fund{value: AMOUNT}(t, b, "", c);
    }

    function test_fund_revertsOnZeroCarrier() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.carrier = address(0);
        _fundExpectRevert(
            t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidParties.selector, buyer, payee, address(0))
        );
    }

    function test_fund_revertsOnArbiterWhoIsAParty() public {
        address[3] memory parties = [buyer, payee, carrier];
        for (uint256 i = 0; i < 3; ++i) {
            IShipmentEscrowV2.Terms memory t = _terms();
            t.arbiter = parties[i];
            _fundExpectRevert(
                t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidArbiter.selector, parties[i])
            );
        }
    }

    function test_fund_revertsOnArbiterWithoutTimeout() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.disputeTimeout = 0;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidArbiter.selector, arbiter));
    }

    function test_fund_revertsOnAutoAcceptWithoutArbiter() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.arbiter = address(0);
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidArbiter.selector, address(0)));
    }

    function test_fund_acceptsNoArbiterWithoutAutoAccept() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.arbiter = address(0);
        t.autoAcceptAfter = 0;
        _fund(t);
    }

    function test_fund_revertsOnAutoAcceptBelowOneHour() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.autoAcceptAfter = 3599;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidAutoAccept.selector, 3599));
        t.autoAcceptAfter = 3600;
        _fund(t);
    }

    function test_fund_revertsOnRefundGraceBelowDwellPlusAutoAcceptPlusHour() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        uint256 minimum = uint256(DWELL_MINUTES) * 60 + AUTO_ACCEPT + 3600;
        t.refundGrace = uint64(minimum - 1);
        _fundExpectRevert(
            t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidRefundGrace.selector, minimum - 1, minimum)
        );
        t.refundGrace = uint64(minimum);
        _fund(t);
    }

    function test_fund_revertsOnRadiusOutOfBounds() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.destRadiusM = 99;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidRadius.selector, 99));
        t.destRadiusM = 50_001;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidRadius.selector, 50_001));
    }

    function test_fund_acceptsRadiusBounds() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.destRadiusM = 100;
        _fund(t);
        t.shipmentId = keccak256("second");
        t.destRadiusM = 50_000;
        _fund(t);
    }

    function test_fund_revertsOnZeroDevicesRoot() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.devicesRoot = bytes32(0);
        _fundExpectRevertSelector(t, (IShipmentEscrowV2.EscrowV2NoDevices.selector));
    }

    function test_fund_revertsOnEmptyTemperatureBand() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.minTempCentiC = 801;
        _fundExpectRevert(
            t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidTemperatureBand.selector, int32(801), int32(800))
        );
    }

    function test_fund_revertsOnBadHumidityBand() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.minHumidityCentiPct = 9000;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidHumidityBand.selector, 9000, 8500));
        t.minHumidityCentiPct = 0;
        t.maxHumidityCentiPct = 10_001;
        _fundExpectRevert(
            t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidHumidityBand.selector, 0, 10_001)
        );
    }

    function test_fund_acceptsHumidityOffAndFullRange() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.minHumidityCentiPct = 0;
        t.maxHumidityCentiPct = 0;
        _fund(t);
        t.shipmentId = keccak256("second");
        t.maxHumidityCentiPct = 10_000;
        _fund(t);
    }

    function test_fund_revertsOnPenaltyCapAboveWhole() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.penaltyCapBps = 10_001;
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidPenaltyCap.selector, 10_001));
    }

    function test_fund_revertsOnDeadlineNotInFuture() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.deadline = uint64(block.timestamp);
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidDeadline.selector, t.deadline));
    }

    function test_fund_revertsOnOverflowingDurations() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.disputeTimeout = type(uint64).max - t.deadline - t.refundGrace - t.disputeWindow;
        _fundExpectRevertSelector(t, (IShipmentEscrowV2.EscrowV2InvalidDurations.selector));
    }

    function test_fund_revertsOnZeroAmount() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        t.amount = 0;
        _fundExpectRevertSelector(t, (IShipmentEscrowV2.EscrowV2ZeroAmount.selector));
    }

    function test_fund_revertsOnWrongValue() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2WrongAmount.selector, AMOUNT, AMOUNT - 1));
        escrow2.fund{value: AMOUNT - 1}(t, b, p, c);
    }

    function test_fund_revertsOnTokenNotAllowed() public {
        TestToken token = new TestToken("Test token", "TST");
        IShipmentEscrowV2.Terms memory t = _terms();
        t.token = address(token);
        _fundExpectRevert(
            t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2UnsupportedToken.selector, address(token))
        );
    }

    function _allowToken(address token) internal {
        vm.prank(admin);
        escrow2.setTokenAllowed(token, true);
    }

    function _fundToken(IShipmentEscrowV2.Terms memory t) internal {
        TestToken(t.token).mint(buyer, t.amount);
        vm.prank(buyer);
        TestToken(t.token).approve(address(escrow2), t.amount);
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        escrow2.fund(t, b, p, c);
    }

    function test_fund_tokenTakesAllowance() public {
        TestToken token = new TestToken("Test token", "TST");
        _allowToken(address(token));
        IShipmentEscrowV2.Terms memory t = _terms();
        t.token = address(token);
        _fundToken(t);
        assertEq(token.balanceOf(address(escrow2)), AMOUNT);
        assertEq(escrow2.shipment(SHIPMENT_ID).amount, AMOUNT);
        assertTrue(escrow2.isTokenAllowed(address(token)));
        assertTrue(escrow2.isTokenAllowed(ETH));
    }

    function test_fund_feeOnTransferRecordsAmountReceived() public {
        FeeOnTransferToken token = new FeeOnTransferToken(100);
        _allowToken(address(token));
        IShipmentEscrowV2.Terms memory t = _terms();
        t.token = address(token);
        _fundToken(t);
        assertEq(escrow2.shipment(SHIPMENT_ID).amount, AMOUNT * 99 / 100);
        assertEq(token.balanceOf(address(escrow2)), AMOUNT * 99 / 100);
    }

    function test_fund_revertsWhenNothingArrives() public {
        FeeOnTransferToken token = new FeeOnTransferToken(10_000);
        _allowToken(address(token));
        IShipmentEscrowV2.Terms memory t = _terms();
        t.token = address(token);
        token.mint(buyer, t.amount);
        vm.prank(buyer);
        token.approve(address(escrow2), t.amount);
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        vm.expectRevert(IShipmentEscrowV2.EscrowV2ZeroAmount.selector);
        escrow2.fund(t, b, p, c);
    }

    function test_fund_revertsOnEthSentWithToken() public {
        TestToken token = new TestToken("Test token", "TST");
        _allowToken(address(token));
        IShipmentEscrowV2.Terms memory t = _terms();
        t.token = address(token);
        _fundExpectRevert(t, abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2WrongAmount.selector, 0, AMOUNT));
    }

    function test_setTokenAllowed_revertsIfNotAdminOrNotContract() public {
        TestToken token = new TestToken("Test token", "TST");
        bytes32 adminRole = escrow2.DEFAULT_ADMIN_ROLE();
        vm.prank(stranger);
        vm.expectRevert(_unauthorized(stranger, adminRole));
        escrow2.setTokenAllowed(address(token), true);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidToken.selector, stranger));
        escrow2.setTokenAllowed(stranger, true);
    }

    function test_setTokenAllowed_removalEmitsAndStopsDeposits() public {
        TestToken token = new TestToken("Test token", "TST");
        _allowToken(address(token));
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.TokenAllowlistUpdated(address(token), false);
        vm.prank(admin);
        escrow2.setTokenAllowed(address(token), false);
        assertFalse(escrow2.isTokenAllowed(address(token)));
    }
}
