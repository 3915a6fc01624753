// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {FalseReturningToken, FeeOnTransferToken, TestToken} from "./utils/tokens/TestTokens.sol";

/// @dev ERC-20 deposits: the allowlist, SafeERC20, fee-on-transfer measurement, per-token balances.
contract ShipmentEscrowTokensTest is EscrowTestBase {
    TestToken internal token;
    FeeOnTransferToken internal feeToken;

    function setUp() public override {
        super.setUp();
        (token, feeToken) = _allowedTestTokens();
    }

    function _tokenTerms(address erc20) internal returns (IShipmentEscrow.Terms memory terms) {
        terms = _terms();
        terms.token = erc20;
        TestToken(erc20).mint(buyer, terms.amount);
        vm.prank(buyer);
        TestToken(erc20).approve(address(escrow), terms.amount);
    }

    function _fundToken(IShipmentEscrow.Terms memory terms) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.prank(buyer);
        escrow.fund(terms, buyerSig, payeeSig);
    }

    function _fundTokenExpectRevert(IShipmentEscrow.Terms memory terms, uint256 value, bytes memory err) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.prank(buyer);
        vm.expectRevert(err);
        escrow.fund{value: value}(terms, buyerSig, payeeSig);
    }

    // ---------------------------------------------------------------- allowlist

    function test_setTokenAllowed_addsAndRemoves() public {
        TestToken other = new TestToken("Other", "OTH");
        assertFalse(escrow.isTokenAllowed(address(other)));
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.TokenAllowlistUpdated(address(other), true);
        vm.prank(admin);
        escrow.setTokenAllowed(address(other), true);
        assertTrue(escrow.isTokenAllowed(address(other)));
        vm.prank(admin);
        escrow.setTokenAllowed(address(other), false);
        assertFalse(escrow.isTokenAllowed(address(other)));
        assertTrue(escrow.isTokenAllowed(ETH));
    }

    function test_setTokenAllowed_revertsIfNotAdmin() public {
        bytes32 adminRole = escrow.DEFAULT_ADMIN_ROLE();
        vm.prank(oracle);
        vm.expectRevert(_unauthorized(oracle, adminRole));
        escrow.setTokenAllowed(address(token), false);
    }

    function test_setTokenAllowed_revertsOnNonContract() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidToken.selector, ETH));
        escrow.setTokenAllowed(ETH, true);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidToken.selector, stranger));
        escrow.setTokenAllowed(stranger, true);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- fund

    function test_fund_tokenTakesAllowanceAndRecordsToken() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(token));
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentFunded(SHIPMENT_ID, escrow.hashTerms(terms), buyer, payee, address(token), AMOUNT);
        _fundToken(terms);
        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        assertEq(s.token, address(token));
        assertEq(s.amount, AMOUNT);
        assertEq(token.balanceOf(address(escrow)), AMOUNT);
        assertEq(token.balanceOf(buyer), 0);
    }

    function test_fund_revertsOnTokenNotAllowed() public {
        TestToken other = new TestToken("Other", "OTH");
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(other));
        _fundTokenExpectRevert(
            terms, 0, abi.encodeWithSelector(IShipmentEscrow.EscrowUnsupportedToken.selector, address(other))
        );
    }

    function test_fund_revertsOnTokenRemovedFromAllowlist() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(token));
        vm.prank(admin);
        escrow.setTokenAllowed(address(token), false);
        _fundTokenExpectRevert(
            terms, 0, abi.encodeWithSelector(IShipmentEscrow.EscrowUnsupportedToken.selector, address(token))
        );
    }

    function test_fund_revertsOnEthSentWithToken() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(token));
        _fundTokenExpectRevert(terms, 1, abi.encodeWithSelector(IShipmentEscrow.EscrowWrongAmount.selector, 0, 1));
    }

    function test_fund_revertsWithoutAllowance() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(token));
        vm.prank(buyer);
        token.approve(address(escrow), AMOUNT - 1);
        _fundTokenExpectRevert(
            terms,
            0,
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), AMOUNT - 1, AMOUNT
            )
        );
    }

    function test_fund_revertsOnFalseReturningToken() public {
        FalseReturningToken nope = new FalseReturningToken();
        vm.prank(admin);
        escrow.setTokenAllowed(address(nope), true);
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(nope));
        _fundTokenExpectRevert(
            terms, 0, abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(nope))
        );
    }

    function test_fund_feeOnTransferRecordsAmountReceived() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(feeToken));
        uint256 received = AMOUNT - AMOUNT / 100;
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentFunded(
            SHIPMENT_ID, escrow.hashTerms(terms), buyer, payee, address(feeToken), received
        );
        _fundToken(terms);
        assertEq(escrow.shipment(SHIPMENT_ID).amount, received);
        assertEq(feeToken.balanceOf(address(escrow)), received);
    }

    function test_fund_revertsWhenNothingArrives() public {
        FeeOnTransferToken allFee = new FeeOnTransferToken(10_000);
        vm.prank(admin);
        escrow.setTokenAllowed(address(allFee), true);
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(allFee));
        _fundTokenExpectRevert(terms, 0, abi.encodeWithSelector(IShipmentEscrow.EscrowZeroAmount.selector));
    }

    // ---------------------------------------------------------------- settle / refund / withdraw

    function test_settle_feeOnTransferSplitsTheDeposit() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(feeToken));
        _fundToken(terms);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 115); // 100 min x 10 bps
        escrow.attest(a, _signAttestation(a, oracleKey));
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow.settle(SHIPMENT_ID);

        uint256 deposit = AMOUNT - AMOUNT / 100;
        uint256 penalty = deposit * 1150 / 10_000;
        assertEq(escrow.owed(address(feeToken), payee), deposit - penalty);
        assertEq(escrow.owed(address(feeToken), buyer), penalty);
        assertEq(escrow.owed(ETH, payee), 0);
        assertEq(escrow.totalOwed(address(feeToken)), deposit);
    }

    function test_withdraw_tokenPaysOwedAndKeepsOtherTokens() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(token));
        _fundToken(terms);
        IShipmentEscrow.Terms memory ethTerms = _terms();
        ethTerms.shipmentId = keccak256("eth shipment");
        _fund(ethTerms);
        vm.warp(uint256(terms.deadline) + REFUND_GRACE + 1);
        escrow.refund(SHIPMENT_ID);
        escrow.refund(ethTerms.shipmentId);

        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.Withdrawn(buyer, address(token), AMOUNT);
        vm.prank(buyer);
        escrow.withdraw(address(token));
        assertEq(token.balanceOf(buyer), AMOUNT);
        assertEq(escrow.owed(address(token), buyer), 0);
        assertEq(escrow.totalOwed(address(token)), 0);
        assertEq(escrow.owed(ETH, buyer), AMOUNT);
        assertEq(escrow.totalOwed(ETH), AMOUNT);
    }

    function test_withdraw_tokenRevertsIfNothingOwed() public {
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNothingOwed.selector, buyer, address(token)));
        escrow.withdraw(address(token));
    }

    function test_withdraw_worksAfterTokenDelisted() public {
        IShipmentEscrow.Terms memory terms = _tokenTerms(address(token));
        _fundToken(terms);
        vm.prank(admin);
        escrow.setTokenAllowed(address(token), false);
        vm.warp(uint256(terms.deadline) + REFUND_GRACE + 1);
        escrow.refund(SHIPMENT_ID);
        vm.prank(buyer);
        escrow.withdraw(address(token));
        assertEq(token.balanceOf(buyer), AMOUNT);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_fund_feeOnTransferDepositIsWhatArrived(uint256 amount, uint16 feeBps) public {
        feeBps = uint16(bound(feeBps, 0, 9999));
        amount = bound(amount, 1, 1e40);
        FeeOnTransferToken fot = new FeeOnTransferToken(feeBps);
        vm.prank(admin);
        escrow.setTokenAllowed(address(fot), true);
        IShipmentEscrow.Terms memory terms = _terms();
        terms.token = address(fot);
        terms.amount = amount;
        fot.mint(buyer, amount);
        vm.prank(buyer);
        fot.approve(address(escrow), amount);
        uint256 received = amount - amount * feeBps / 10_000;
        if (received == 0) {
            _fundTokenExpectRevert(terms, 0, abi.encodeWithSelector(IShipmentEscrow.EscrowZeroAmount.selector));
            return;
        }
        _fundToken(terms);
        assertEq(escrow.shipment(SHIPMENT_ID).amount, received);
        assertEq(fot.balanceOf(address(escrow)), received);
        // Whatever the fee, the refund path hands back exactly the deposit and empties the escrow.
        vm.warp(uint256(terms.deadline) + REFUND_GRACE + 1);
        escrow.refund(SHIPMENT_ID);
        vm.prank(buyer);
        escrow.withdraw(address(fot));
        assertEq(fot.balanceOf(address(escrow)), 0);
        assertEq(escrow.totalOwed(address(fot)), 0);
    }
}
