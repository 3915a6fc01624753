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
        (TestToken token, FeeOnTransferToken feeToken) = _allowedTestTokens();
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

    /// @dev Every shipment's record, read once per check (the checks run after every call).
    function _records() internal view returns (IShipmentEscrow.Shipment[] memory records) {
        uint256 n = handler.idCount();
        records = new IShipmentEscrow.Shipment[](n);
        for (uint256 i = 0; i < n; ++i) {
            records[i] = escrow.shipment(handler.ids(i));
        }
    }

    /// @dev Per token: deposits still held (not final) plus credits not yet withdrawn.
    function _liabilities(IShipmentEscrow.Shipment[] memory records) internal view returns (uint256[3] memory held) {
        for (uint256 i = 0; i < records.length; ++i) {
            IShipmentEscrow.State state = records[i].state;
            if (state == IShipmentEscrow.State.Settled || state == IShipmentEscrow.State.Refunded) continue;
            for (uint256 t = 0; t < 3; ++t) {
                if (records[i].token == handler.tokens(t)) held[t] += records[i].amount;
            }
        }
        for (uint256 t = 0; t < 3; ++t) {
            held[t] += escrow.totalOwed(handler.tokens(t));
        }
    }

    /// @dev Balances cover what is held and owed: exactly for tokens (nothing can be forced in),
    /// and for ETH over by exactly the ETH forced in.
    function _checkBalances(IShipmentEscrow.Shipment[] memory records) internal view {
        uint256[3] memory held = _liabilities(records);
        for (uint256 t = 0; t < 3; ++t) {
            uint256 balance = _balance(handler.tokens(t));
            assertGe(balance, held[t], "balance below liabilities");
            assertEq(balance, held[t] + (t == 0 ? handler.ghostForcedEth() : 0), "balance != liabilities");
        }
    }

    /// @dev totalOwed is the sum of owed; credited - withdrawn == owed, so nobody withdrew more.
    function _checkOwed() internal view {
        for (uint256 t = 0; t < 3; ++t) {
            address token = handler.tokens(t);
            uint256 sum;
            for (uint256 i = 0; i < handler.actorCount(); ++i) {
                address actor = handler.actors(i);
                uint256 owed = escrow.owed(token, actor);
                uint256 credited = handler.ghostCredited(token, actor);
                uint256 withdrawn = handler.ghostWithdrawn(token, actor);
                assertLe(withdrawn, credited, "withdrew more than credited");
                assertEq(owed, credited - withdrawn, "owed != credited - withdrawn");
                sum += owed;
            }
            assertEq(escrow.totalOwed(token), sum, "totalOwed != sum of owed");
        }
    }

    /// @dev Splits add up to deposits; final shipments never change; states count the calls
    /// (each shipment takes each transition at most once).
    function _checkLifeCycle(IShipmentEscrow.Shipment[] memory records) internal view {
        uint256[6] memory count;
        for (uint256 i = 0; i < records.length; ++i) {
            IShipmentEscrow.Shipment memory s = records[i];
            ++count[uint8(s.state)];
            assertEq(s.payout + s.refund, s.state == IShipmentEscrow.State.Funded ? 0 : s.amount, "split");
            bytes32 record = handler.finalRecord(handler.ids(i));
            bool isFinal = s.state == IShipmentEscrow.State.Settled || s.state == IShipmentEscrow.State.Refunded;
            assertEq(isFinal, record != bytes32(0), "final state without record");
            if (isFinal) assertEq(keccak256(abi.encode(s)), record, "a final shipment changed");
        }
        assertEq(count[uint8(IShipmentEscrow.State.None)], 0);
        assertEq(records.length, handler.applied(EscrowHandler.fund.selector));
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
        _checkBalances(_records());
        _checkOwed();
    }

    /// @dev Life cycle: splits add up to deposits, final shipments never change, states match calls.
    function invariant_lifeCycle() public view {
        _checkLifeCycle(_records());
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
        IShipmentEscrow.Shipment[] memory records = _records();
        _checkBalances(records);
        _checkOwed();
        _checkLifeCycle(records);
    }
}
