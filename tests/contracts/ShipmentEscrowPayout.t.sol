// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";

/// @dev settle, refund and withdraw: how the deposit leaves the escrow.
contract ShipmentEscrowPayoutTest is EscrowTestBase {
    IShipmentEscrow.Terms internal terms;

    function setUp() public override {
        super.setUp();
        terms = _terms();
    }

    function _windowEnd() internal view returns (uint64) {
        return escrow.shipment(SHIPMENT_ID).attestedAt + DISPUTE_WINDOW;
    }

    // ---------------------------------------------------------------- settle

    function test_settle_creditsPayoutAndRefund() public {
        _fundAndAttest(terms, 100); // 1000 bps: 1 ETH penalty
        vm.warp(_windowEnd());
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentSettled(SHIPMENT_ID, 9 ether, 1 ether);
        vm.prank(stranger);
        escrow.settle(SHIPMENT_ID);

        assertEq(escrow.owed(ETH, payee), 9 ether);
        assertEq(escrow.owed(ETH, buyer), 1 ether);
        assertEq(uint8(_state(SHIPMENT_ID)), uint8(IShipmentEscrow.State.Settled));
        assertEq(address(escrow).balance, AMOUNT, "nothing leaves before withdraw");
    }

    function test_settle_withoutPenaltyCreditsOnlyPayee() public {
        _fundAndAttest(terms, 0);
        vm.warp(_windowEnd());
        escrow.settle(SHIPMENT_ID);
        assertEq(escrow.owed(ETH, payee), AMOUNT);
        assertEq(escrow.owed(ETH, buyer), 0);
    }

    function test_settle_revertsWhileDisputeWindowOpen() public {
        _fundAndAttest(terms, 0);
        uint64 endsAt = _windowEnd();
        vm.warp(endsAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowDisputeWindowOpen.selector, endsAt));
        escrow.settle(SHIPMENT_ID);
    }

    function test_settle_revertsIfUnknown() public {
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.None));
        escrow.settle(SHIPMENT_ID);
    }

    function test_settle_revertsIfOnlyFunded() public {
        _fund(terms);
        vm.warp(terms.deadline + REFUND_GRACE + DISPUTE_WINDOW);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Funded));
        escrow.settle(SHIPMENT_ID);
    }

    function test_settle_revertsWhenSettledTwice() public {
        _fundAndAttest(terms, 0);
        vm.warp(_windowEnd());
        escrow.settle(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Settled));
        escrow.settle(SHIPMENT_ID);
    }

    function test_settle_revertsIfRefunded() public {
        _fund(terms);
        vm.warp(terms.deadline + REFUND_GRACE + 1);
        escrow.refund(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Refunded));
        escrow.settle(SHIPMENT_ID);
    }

    // ---------------------------------------------------------------- refund

    function test_refund_creditsBuyerTheWholeAmount() public {
        _fund(terms);
        vm.warp(terms.deadline + REFUND_GRACE + 1);
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.ShipmentRefunded(SHIPMENT_ID, AMOUNT);
        vm.prank(stranger);
        escrow.refund(SHIPMENT_ID);

        IShipmentEscrow.Shipment memory s = escrow.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrow.State.Refunded));
        assertEq(s.refund, AMOUNT);
        assertEq(s.payout, 0);
        assertEq(escrow.owed(ETH, buyer), AMOUNT);
        assertEq(escrow.owed(ETH, payee), 0);
    }

    function test_refund_revertsDuringAttestationWindow() public {
        _fund(terms);
        uint64 refundableAt = terms.deadline + REFUND_GRACE + 1;
        vm.warp(refundableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowDeadlineNotPassed.selector, refundableAt));
        escrow.refund(SHIPMENT_ID);
    }

    function test_refund_revertsIfUnknown() public {
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.None));
        escrow.refund(SHIPMENT_ID);
    }

    function test_refund_revertsIfAttested() public {
        _fundAndAttest(terms, 0);
        vm.warp(terms.deadline + REFUND_GRACE + 1);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Attested));
        escrow.refund(SHIPMENT_ID);
    }

    function test_refund_revertsIfSettled() public {
        _fundAndAttest(terms, 0);
        vm.warp(terms.deadline + REFUND_GRACE + DISPUTE_WINDOW);
        escrow.settle(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Settled));
        escrow.refund(SHIPMENT_ID);
    }

    function test_refund_revertsWhenRefundedTwice() public {
        _fund(terms);
        vm.warp(terms.deadline + REFUND_GRACE + 1);
        escrow.refund(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrow.State.Refunded));
        escrow.refund(SHIPMENT_ID);
    }

    // ---------------------------------------------------------------- withdraw

    function _settled(uint32 excursionMinutes) internal {
        _fundAndAttest(terms, excursionMinutes);
        vm.warp(_windowEnd());
        escrow.settle(SHIPMENT_ID);
    }

    function test_withdraw_sendsWhatIsOwed() public {
        _settled(100);
        uint256 before = payee.balance;
        vm.expectEmit(address(escrow));
        emit IShipmentEscrow.Withdrawn(payee, ETH, 9 ether);
        vm.prank(payee);
        escrow.withdraw(ETH);
        assertEq(payee.balance - before, 9 ether);
        assertEq(escrow.owed(ETH, payee), 0);

        vm.prank(buyer);
        escrow.withdraw(ETH);
        assertEq(buyer.balance, 1000 ether - AMOUNT + 1 ether);
        assertEq(address(escrow).balance, 0);
    }

    function test_withdraw_revertsIfNothingOwed() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNothingOwed.selector, stranger, ETH));
        escrow.withdraw(ETH);
    }

    function test_withdraw_revertsWhenWithdrawnTwice() public {
        _settled(0);
        vm.startPrank(payee);
        escrow.withdraw(ETH);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowNothingOwed.selector, payee, ETH));
        escrow.withdraw(ETH);
        vm.stopPrank();
    }

    function test_withdraw_byErc1271Payee() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        terms.payee = address(wallet);
        _settled(0);
        vm.prank(payee);
        wallet.execute(address(escrow), abi.encodeCall(IShipmentEscrow.withdraw, (ETH)));
        assertEq(address(wallet).balance, AMOUNT);
    }

    function test_withdraw_revertsIfTransferFailsAndKeepsBalance() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        terms.payee = address(wallet);
        _settled(0);
        vm.startPrank(payee);
        wallet.setReceiveMode(ERC1271Wallet.ReceiveMode.Reject);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrow.EscrowTransferFailed.selector, address(wallet), AMOUNT));
        wallet.execute(address(escrow), abi.encodeCall(IShipmentEscrow.withdraw, (ETH)));
        assertEq(escrow.owed(ETH, address(wallet)), AMOUNT);

        // Once the wallet accepts ETH again the balance is still there to withdraw.
        wallet.setReceiveMode(ERC1271Wallet.ReceiveMode.Accept);
        wallet.execute(address(escrow), abi.encodeCall(IShipmentEscrow.withdraw, (ETH)));
        vm.stopPrank();
        assertEq(address(wallet).balance, AMOUNT);
    }

    function test_withdraw_blocksReentry() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        terms.payee = address(wallet);
        _settled(0);
        vm.startPrank(payee);
        wallet.setReceiveMode(ERC1271Wallet.ReceiveMode.Reenter);
        wallet.execute(address(escrow), abi.encodeCall(IShipmentEscrow.withdraw, (ETH)));
        vm.stopPrank();

        assertEq(
            wallet.reentryError(),
            abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector)
        );
        assertEq(address(wallet).balance, AMOUNT, "paid exactly once");
        assertEq(address(escrow).balance, 0);
    }
}
