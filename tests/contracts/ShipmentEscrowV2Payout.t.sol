// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";
import {FeeOnTransferToken} from "./utils/tokens/TestTokens.sol";

/// @dev settle, refund, mutualRelease and withdraw.
contract ShipmentEscrowV2PayoutTest is EscrowV2TestBase {
    // ---------------------------------------------------------------- settle

    function test_settle_creditsAttestedSplitAfterWindow() public {
        _fundAndAttest(_terms(), 100);
        uint256 endsAt = block.timestamp + DISPUTE_WINDOW;
        vm.warp(endsAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2DisputeWindowOpen.selector, endsAt));
        escrow2.settle(SHIPMENT_ID);
        vm.warp(endsAt);
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.ShipmentSettled(SHIPMENT_ID, 9 ether, 1 ether);
        vm.prank(stranger);
        escrow2.settle(SHIPMENT_ID);
        assertEq(escrow2.owed(ETH, payee), 9 ether);
        assertEq(escrow2.owed(ETH, buyer), 1 ether);
        assertEq(escrow2.totalOwed(ETH), AMOUNT);
    }

    function test_settle_revertsWhenSettledTwice() public {
        _fundAndAttest(_terms(), 100);
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow2.settle(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Settled));
        escrow2.settle(SHIPMENT_ID);
    }

    function test_settle_revertsIfOnlyFunded() public {
        _fund(_terms());
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Funded));
        escrow2.settle(SHIPMENT_ID);
    }

    function test_settle_feeOnTransferSplitsTheDeposit() public {
        FeeOnTransferToken token = new FeeOnTransferToken(100);
        vm.prank(admin);
        escrow2.setTokenAllowed(address(token), true);
        IShipmentEscrowV2.Terms memory t = _terms();
        t.token = address(token);
        token.mint(buyer, AMOUNT);
        vm.prank(buyer);
        token.approve(address(escrow2), AMOUNT);
        bytes memory b = _signTerms(t, buyerKey);
        bytes memory p = _signTerms(t, payeeKey);
        bytes memory c = _signTerms(t, carrierKey);
        vm.prank(buyer);
        escrow2.fund(t, b, p, c);
        vm.warp(block.timestamp + 1 days);
        _attest(t, _attestation(t, 100)); // 10 %
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow2.settle(SHIPMENT_ID);
        uint256 deposit = AMOUNT * 99 / 100;
        assertEq(escrow2.owed(address(token), buyer), deposit / 10);
        assertEq(escrow2.owed(address(token), payee), deposit - deposit / 10);
        vm.prank(payee);
        escrow2.withdraw(address(token));
        vm.prank(buyer);
        escrow2.withdraw(address(token));
        assertEq(token.balanceOf(address(escrow2)), 0);
    }

    // ---------------------------------------------------------------- refund

    function test_refund_creditsBuyerAfterAttestationDeadline() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        uint256 refundableAt = uint256(t.deadline) + t.refundGrace + 1;
        vm.warp(refundableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NotRefundable.selector, refundableAt));
        escrow2.refund(SHIPMENT_ID);
        vm.warp(refundableAt);
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.ShipmentRefunded(SHIPMENT_ID, AMOUNT);
        escrow2.refund(SHIPMENT_ID);
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrowV2.State.Refunded));
        assertEq(s.refund, AMOUNT);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT);
    }

    function test_refund_revertsIfAttested() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fundAndAttest(t, 0);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Attested));
        escrow2.refund(SHIPMENT_ID);
    }

    function test_refund_revertsIfDisputed() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(t.deadline);
        vm.prank(payee);
        escrow2.openDispute(SHIPMENT_ID);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Disputed));
        escrow2.refund(SHIPMENT_ID);
    }

    function test_refund_revertsAfterMutualRelease() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        _release(SHIPMENT_ID, 1 ether, buyerKey, payeeKey);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Settled));
        escrow2.refund(SHIPMENT_ID);
    }

    function test_refund_revertsWhenRefundedTwice() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        escrow2.refund(SHIPMENT_ID);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Refunded));
        escrow2.refund(SHIPMENT_ID);
    }

    function test_refund_revertsIfUnknown() public {
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.None));
        escrow2.refund(SHIPMENT_ID);
    }

    // ---------------------------------------------------------------- mutualRelease

    function test_mutualRelease_settlesFundedWithTheirSplit() public {
        _fund(_terms());
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.MutuallyReleased(SHIPMENT_ID, 7 ether, 3 ether);
        vm.prank(stranger);
        _release(SHIPMENT_ID, 7 ether, buyerKey, payeeKey);
        IShipmentEscrowV2.Shipment memory s = escrow2.shipment(SHIPMENT_ID);
        assertEq(uint8(s.state), uint8(IShipmentEscrowV2.State.Settled));
        assertEq(s.payout, 7 ether);
        assertEq(s.refund, 3 ether);
        assertEq(escrow2.owed(ETH, payee), 7 ether);
        assertEq(escrow2.owed(ETH, buyer), 3 ether);
    }

    function test_mutualRelease_overridesAttestation() public {
        _fundAndAttest(_terms(), 100);
        _release(SHIPMENT_ID, AMOUNT, buyerKey, payeeKey);
        assertEq(escrow2.owed(ETH, payee), AMOUNT);
    }

    function test_mutualRelease_endsDispute() public {
        _fundAndAttest(_terms(), 100);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        _release(SHIPMENT_ID, 0, buyerKey, payeeKey);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT);
    }

    function test_mutualRelease_worksWhileOraclePaused() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.prank(guardian);
        escrow2.setOraclePaused(oracle, true);
        vm.warp(uint256(t.deadline) + 30 days);
        _release(SHIPMENT_ID, 5 ether, buyerKey, payeeKey);
        assertEq(escrow2.owed(ETH, payee), 5 ether);
    }

    function test_mutualRelease_acceptsErc1271Payee() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        IShipmentEscrowV2.Terms memory t = _terms();
        t.payee = address(wallet);
        _fund(t);
        _release(SHIPMENT_ID, 5 ether, buyerKey, payeeKey);
        assertEq(escrow2.owed(ETH, address(wallet)), 5 ether);
    }

    function test_mutualRelease_revertsWithoutPayeeSignature() public {
        _fund(_terms());
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, 0);
        bytes memory b = _sign(buyerKey, digest);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, payee));
        escrow2.mutualRelease(SHIPMENT_ID, 0, b, b);
    }

    function test_mutualRelease_revertsWithoutBuyerSignature() public {
        _fund(_terms());
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, AMOUNT);
        bytes memory p = _sign(payeeKey, digest);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, buyer));
        escrow2.mutualRelease(SHIPMENT_ID, AMOUNT, p, p);
    }

    function test_mutualRelease_revertsOnSignaturesForOtherPayout() public {
        _fund(_terms());
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, 1 ether);
        bytes memory b = _sign(buyerKey, digest);
        bytes memory p = _sign(payeeKey, digest);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSignature.selector, buyer));
        escrow2.mutualRelease(SHIPMENT_ID, 9 ether, b, p);
    }

    function test_mutualRelease_revertsOnPayoutAboveDeposit() public {
        _fund(_terms());
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, AMOUNT + 1);
        bytes memory b = _sign(buyerKey, digest);
        bytes memory p = _sign(payeeKey, digest);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidSplit.selector, AMOUNT + 1, AMOUNT));
        escrow2.mutualRelease(SHIPMENT_ID, AMOUNT + 1, b, p);
    }

    function test_mutualRelease_revertsAfterSettlement() public {
        _fund(_terms());
        _release(SHIPMENT_ID, 1 ether, buyerKey, payeeKey);
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, 1 ether);
        bytes memory b = _sign(buyerKey, digest);
        bytes memory p = _sign(payeeKey, digest);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Settled));
        escrow2.mutualRelease(SHIPMENT_ID, 1 ether, b, p);
    }

    function test_mutualRelease_revertsAfterRefund() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        escrow2.refund(SHIPMENT_ID);
        bytes32 digest = escrow2.mutualReleaseDigest(SHIPMENT_ID, 1 ether);
        bytes memory b = _sign(buyerKey, digest);
        bytes memory p = _sign(payeeKey, digest);
        vm.expectRevert(_invalidState(SHIPMENT_ID, IShipmentEscrowV2.State.Refunded));
        escrow2.mutualRelease(SHIPMENT_ID, 1 ether, b, p);
    }

    // ---------------------------------------------------------------- withdraw

    function test_withdraw_sendsWhatIsOwed() public {
        _fund(_terms());
        _release(SHIPMENT_ID, 7 ether, buyerKey, payeeKey);
        uint256 before = payee.balance;
        vm.expectEmit(address(escrow2));
        emit IShipmentEscrowV2.Withdrawn(payee, ETH, 7 ether);
        vm.prank(payee);
        escrow2.withdraw(ETH);
        assertEq(payee.balance - before, 7 ether);
        assertEq(escrow2.owed(ETH, payee), 0);
        assertEq(escrow2.totalOwed(ETH), 3 ether);
    }

    function test_withdraw_revertsIfNothingOwed() public {
        vm.prank(payee);
        vm.expectRevert(abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2NothingOwed.selector, payee, ETH));
        escrow2.withdraw(ETH);
    }

    function test_withdraw_revertsIfTransferFailsAndKeepsBalance() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        IShipmentEscrowV2.Terms memory t = _terms();
        t.payee = address(wallet);
        _fund(t);
        _release(SHIPMENT_ID, 7 ether, buyerKey, payeeKey);
        vm.prank(payee);
        wallet.setReceiveMode(ERC1271Wallet.ReceiveMode.Reject);
        vm.prank(address(wallet));
        vm.expectRevert(
            abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2TransferFailed.selector, address(wallet), 7 ether)
        );
        escrow2.withdraw(ETH);
        assertEq(escrow2.owed(ETH, address(wallet)), 7 ether);
    }

    /// @dev The wallet's receive() calls withdraw(address) again, the same selector in v2.
    function test_withdraw_blocksReentry() public {
        ERC1271Wallet wallet = new ERC1271Wallet(payee);
        IShipmentEscrowV2.Terms memory t = _terms();
        t.payee = address(wallet);
        _fund(t);
        _release(SHIPMENT_ID, AMOUNT, buyerKey, payeeKey);
        vm.startPrank(payee);
        wallet.setReceiveMode(ERC1271Wallet.ReceiveMode.Reenter);
        wallet.execute(address(escrow2), abi.encodeCall(IShipmentEscrowV2.withdraw, (ETH)));
        vm.stopPrank();
        assertEq(wallet.reentryError(), abi.encodeWithSelector(ReentrancyGuard.ReentrancyGuardReentrantCall.selector));
        assertEq(address(wallet).balance, AMOUNT, "paid exactly once");
        assertEq(address(escrow2).balance, 0);
    }

    function test_receive_rejectsPlainEth() public {
        vm.prank(buyer);
        (bool ok,) = address(escrow2).call{value: 1 ether}("");
        assertFalse(ok);
    }
}
