// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {EscrowHandler} from "./utils/EscrowHandler.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {FeeOnTransferToken, TestToken} from "./utils/tokens/TestTokens.sol";

/// @dev Whatever sequence of fund / attest / dispute / evidence / resolve / settle / refund /
/// withdraw / forced ETH / time passing happens, across ETH and two tokens (one fee-on-transfer),
/// the escrow holds at least what it owes, splits add up, and final shipments stay final.
/// The checks live here so that the scripted coverage walk can run them too.
abstract contract EscrowInvariantBase is EscrowTestBase {
    EscrowHandler internal handler;

    function setUp() public override {
        super.setUp();
        TestToken token = new TestToken("Test token", "TST");
        FeeOnTransferToken feeToken = new FeeOnTransferToken(100);
        vm.startPrank(admin);
        escrow.setTokenAllowed(address(token), true);
        escrow.setTokenAllowed(address(feeToken), true);
        vm.stopPrank();
        handler = new EscrowHandler(escrow, traceAnchor, oracleKey, address(token), address(feeToken));
        targetContract(address(handler));
        bytes4[] memory actions = new bytes4[](10);
        actions[0] = EscrowHandler.fund.selector;
        actions[1] = EscrowHandler.attest.selector;
        actions[2] = EscrowHandler.openDispute.selector;
        actions[3] = EscrowHandler.submitEvidence.selector;
        actions[4] = EscrowHandler.resolveDispute.selector;
        actions[5] = EscrowHandler.settle.selector;
        actions[6] = EscrowHandler.refund.selector;
        actions[7] = EscrowHandler.withdraw.selector;
        actions[8] = EscrowHandler.forceEth.selector;
        actions[9] = EscrowHandler.warp.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: actions}));
    }

    function _balance(address token) internal view returns (uint256) {
        return token == ETH ? address(escrow).balance : IERC20(token).balanceOf(address(escrow));
    }

    /// @dev Deposits still held (not yet final) plus credits not yet withdrawn, per token.
    function _liabilities(address token) internal view returns (uint256 held) {
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            IShipmentEscrow.Shipment memory s = escrow.shipment(handler.ids(i));
            if (s.token != token) continue;
            if (
                s.state == IShipmentEscrow.State.Funded || s.state == IShipmentEscrow.State.Attested
                    || s.state == IShipmentEscrow.State.Disputed
            ) held += s.amount;
        }
        held += escrow.totalOwed(token);
    }

    function _checkBalanceCoversLiabilities() internal view {
        for (uint256 t = 0; t < handler.TOKENS(); ++t) {
            address token = handler.tokens(t);
            assertGe(_balance(token), _liabilities(token));
        }
    }

    /// @dev Exact for tokens (nothing can be forced in); ETH is over by exactly the forced amount.
    function _checkBalanceIsLiabilitiesPlusForcedEth() internal view {
        assertEq(address(escrow).balance, _liabilities(ETH) + handler.ghostForcedEth());
        for (uint256 t = 1; t < handler.TOKENS(); ++t) {
            address token = handler.tokens(t);
            assertEq(_balance(token), _liabilities(token));
        }
    }

    function _checkTotalOwedIsSumOfOwed() internal view {
        for (uint256 t = 0; t < handler.TOKENS(); ++t) {
            address token = handler.tokens(t);
            uint256 sum;
            for (uint256 i = 0; i < handler.actorCount(); ++i) {
                sum += escrow.owed(token, handler.actors(i));
            }
            assertEq(escrow.totalOwed(token), sum);
        }
    }

    function _checkSplitAddsUpToDeposit() internal view {
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            IShipmentEscrow.Shipment memory s = escrow.shipment(handler.ids(i));
            if (s.state == IShipmentEscrow.State.Funded) {
                assertEq(s.payout + s.refund, 0);
            } else {
                assertEq(s.payout + s.refund, s.amount);
            }
        }
    }

    /// @dev Credited - withdrawn == owed for every account and token: nobody withdrew more.
    function _checkNobodyWithdrawsMoreThanOwed() internal view {
        for (uint256 t = 0; t < handler.TOKENS(); ++t) {
            address token = handler.tokens(t);
            for (uint256 i = 0; i < handler.actorCount(); ++i) {
                address actor = handler.actors(i);
                uint256 credited = handler.ghostCredited(token, actor);
                uint256 withdrawn = handler.ghostWithdrawn(token, actor);
                assertLe(withdrawn, credited);
                assertEq(escrow.owed(token, actor), credited - withdrawn);
            }
        }
    }

    function _checkFinalShipmentsNeverChange() internal view {
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            bytes32 id = handler.ids(i);
            bytes32 record = handler.finalRecord(id);
            IShipmentEscrow.Shipment memory s = escrow.shipment(id);
            bool isFinal = s.state == IShipmentEscrow.State.Settled || s.state == IShipmentEscrow.State.Refunded;
            assertEq(isFinal, record != bytes32(0));
            if (isFinal) assertEq(keccak256(abi.encode(s)), record);
        }
    }

    /// @dev Each shipment takes each transition at most once: states count the applied calls.
    function _checkStatesMatchTransitions() internal view {
        uint256[6] memory count;
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            ++count[uint8(escrow.shipment(handler.ids(i)).state)];
        }
        assertEq(count[uint8(IShipmentEscrow.State.None)], 0);
        assertEq(handler.idCount(), handler.applied(EscrowHandler.fund.selector));
        assertEq(
            count[uint8(IShipmentEscrow.State.Attested)] + count[uint8(IShipmentEscrow.State.Disputed)]
                + count[uint8(IShipmentEscrow.State.Settled)],
            handler.applied(EscrowHandler.attest.selector)
        );
        assertEq(
            count[uint8(IShipmentEscrow.State.Settled)],
            handler.applied(EscrowHandler.settle.selector) + handler.applied(EscrowHandler.resolveDispute.selector)
        );
        assertEq(count[uint8(IShipmentEscrow.State.Refunded)], handler.applied(EscrowHandler.refund.selector));
    }
}

/// @dev Whatever sequence of actions the fuzzer picks (bounded, none reverting), every check holds.
/// Two invariants, not seven: each invariant function is its own fuzzing campaign, and these checks
/// are cheap next to the calls that reach the states they check.
contract ShipmentEscrowInvariantTest is EscrowInvariantBase {
    /// @dev Money: balances cover (tokens: equal) what is held and owed; nobody got more than owed.
    function invariant_accounting() public view {
        _checkBalanceCoversLiabilities();
        _checkBalanceIsLiabilitiesPlusForcedEth();
        _checkTotalOwedIsSumOfOwed();
        _checkNobodyWithdrawsMoreThanOwed();
    }

    /// @dev Life cycle: splits add up to deposits, final shipments never change, states match calls.
    function invariant_lifeCycle() public view {
        _checkSplitAddsUpToDeposit();
        _checkFinalShipmentsNeverChange();
        _checkStatesMatchTransitions();
    }
}

/// @dev The handler's actions all reach the escrow: one scripted walk through every state and action
/// with the same bounded inputs the fuzzer uses (ghost coverage, so no invariant holds vacuously).
contract EscrowHandlerCoverageTest is EscrowInvariantBase {
    function test_handler_reachesEveryStateAndAction() public {
        for (uint256 i = 0; i < 9; ++i) {
            handler.fund(i, i, i, 10 ether + i, 20, 3000, 2 days, i % 3 != 2);
        }
        handler.warp(1 days);
        for (uint256 i = 0; i < 6; ++i) {
            handler.attest(i, 60, 0);
        }
        handler.openDispute(0, false);
        handler.openDispute(1, true);
        handler.submitEvidence(0, false, false);
        handler.submitEvidence(0, true, true);
        handler.resolveDispute(0, 4 ether);
        handler.forceEth(1 ether);
        handler.warp(2 days);
        handler.settle(0);
        handler.warp(3 days);
        handler.settle(0);
        handler.refund(0);
        for (uint256 i = 0; i < 4; ++i) {
            for (uint256 t = 0; t < 3; ++t) {
                handler.withdraw(i, t);
            }
        }
        bytes4[10] memory actions = [
            EscrowHandler.fund.selector,
            EscrowHandler.attest.selector,
            EscrowHandler.openDispute.selector,
            EscrowHandler.submitEvidence.selector,
            EscrowHandler.resolveDispute.selector,
            EscrowHandler.settle.selector,
            EscrowHandler.refund.selector,
            EscrowHandler.withdraw.selector,
            EscrowHandler.forceEth.selector,
            EscrowHandler.warp.selector
        ];
        for (uint256 i = 0; i < actions.length; ++i) {
            assertGt(handler.applied(actions[i]), 0, "an action never got past its guard");
        }
        for (uint8 s = 1; s <= uint8(IShipmentEscrow.State.Disputed); ++s) {
            assertGt(handler.entered(IShipmentEscrow.State(s)), 0, "a state was never entered");
        }
        _checkBalanceCoversLiabilities();
        _checkBalanceIsLiabilitiesPlusForcedEth();
        _checkTotalOwedIsSumOfOwed();
        _checkSplitAddsUpToDeposit();
        _checkNobodyWithdrawsMoreThanOwed();
        _checkFinalShipmentsNeverChange();
        _checkStatesMatchTransitions();
    }
}
