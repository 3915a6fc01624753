// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {EscrowV2Handler} from "./utils/EscrowV2Handler.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";
import {FeeOnTransferToken, TestToken} from "./utils/tokens/TestTokens.sol";

/// @dev Whatever sequence of fund / attest / dispute / resolve / mutual release / settle / refund /
/// withdraw / oracle pause / time passing happens, across ETH and two tokens (one fee-on-transfer),
/// the escrow holds exactly what it owes, splits add up, and a shipment settles once.
abstract contract EscrowV2InvariantBase is EscrowV2TestBase {
    EscrowV2Handler internal handler;

    function setUp() public override {
        super.setUp();
        TestToken token = new TestToken("Test token", "TST");
        FeeOnTransferToken feeToken = new FeeOnTransferToken(100);
        vm.startPrank(admin);
        escrow2.setTokenAllowed(address(token), true);
        escrow2.setTokenAllowed(address(feeToken), true);
        vm.stopPrank();
        handler = new EscrowV2Handler(escrow2, oracleKey, guardian, address(token), address(feeToken));
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: _actions()}));
    }

    function _actions() internal pure returns (bytes4[] memory actions) {
        actions = new bytes4[](10);
        actions[0] = EscrowV2Handler.fund.selector;
        actions[1] = EscrowV2Handler.attest.selector;
        actions[2] = EscrowV2Handler.openDispute.selector;
        actions[3] = EscrowV2Handler.resolveDispute.selector;
        actions[4] = EscrowV2Handler.mutualRelease.selector;
        actions[5] = EscrowV2Handler.settle.selector;
        actions[6] = EscrowV2Handler.refund.selector;
        actions[7] = EscrowV2Handler.withdraw.selector;
        actions[8] = EscrowV2Handler.togglePause.selector;
        actions[9] = EscrowV2Handler.warp.selector;
    }

    function _balance(address token) internal view returns (uint256) {
        return token == ETH ? address(escrow2).balance : IERC20(token).balanceOf(address(escrow2));
    }

    function _records() internal view returns (IShipmentEscrowV2.Shipment[] memory records) {
        uint256 n = handler.idCount();
        records = new IShipmentEscrowV2.Shipment[](n);
        for (uint256 i = 0; i < n; ++i) {
            records[i] = escrow2.shipment(handler.ids(i));
        }
    }

    function _isFinal(IShipmentEscrowV2.State state) internal pure returns (bool) {
        return state == IShipmentEscrowV2.State.Settled || state == IShipmentEscrowV2.State.Refunded;
    }

    /// @dev Per token, the balance is exactly the deposits still held plus what is owed.
    function _checkBalances(IShipmentEscrowV2.Shipment[] memory records) internal view {
        for (uint256 t = 0; t < 3; ++t) {
            address token = handler.tokens(t);
            uint256 held = escrow2.totalOwed(token);
            for (uint256 i = 0; i < records.length; ++i) {
                if (!_isFinal(records[i].state) && records[i].token == token) held += records[i].amount;
            }
            assertEq(_balance(token), held, "balance != liabilities");
        }
    }

    /// @dev totalOwed is the sum of owed; credited - withdrawn == owed, so nobody withdrew more.
    function _checkOwed() internal view {
        for (uint256 t = 0; t < 3; ++t) {
            address token = handler.tokens(t);
            uint256 sum;
            for (uint256 i = 0; i < handler.actorCount(); ++i) {
                address actor = handler.actors(i);
                uint256 owed = escrow2.owed(token, actor);
                uint256 credited = handler.ghostCredited(token, actor);
                uint256 withdrawn = handler.ghostWithdrawn(token, actor);
                assertLe(withdrawn, credited, "withdrew more than credited");
                assertEq(owed, credited - withdrawn, "owed != credited - withdrawn");
                sum += owed;
            }
            assertEq(escrow2.totalOwed(token), sum, "totalOwed != sum of owed");
        }
    }

    /// @dev Splits add up to deposits once fixed; final shipments never change; each shipment
    /// settles at most once (final states count the settling calls).
    function _checkLifeCycle(IShipmentEscrowV2.Shipment[] memory records) internal view {
        uint256[6] memory count;
        for (uint256 i = 0; i < records.length; ++i) {
            IShipmentEscrowV2.Shipment memory s = records[i];
            ++count[uint8(s.state)];
            bool fixedSplit = _isFinal(s.state) || s.attestedAt != 0;
            assertEq(s.payout + s.refund, fixedSplit ? s.amount : 0, "split");
            bytes32 record = handler.finalRecord(handler.ids(i));
            assertEq(_isFinal(s.state), record != bytes32(0), "final state without record");
            if (_isFinal(s.state)) assertEq(keccak256(abi.encode(s)), record, "a final shipment changed");
        }
        assertEq(count[uint8(IShipmentEscrowV2.State.None)], 0);
        assertEq(records.length, handler.applied(EscrowV2Handler.fund.selector));
        assertEq(
            count[uint8(IShipmentEscrowV2.State.Settled)],
            handler.applied(EscrowV2Handler.settle.selector) + handler.applied(EscrowV2Handler.resolveDispute.selector)
                + handler.applied(EscrowV2Handler.mutualRelease.selector)
        );
        assertEq(count[uint8(IShipmentEscrowV2.State.Refunded)], handler.applied(EscrowV2Handler.refund.selector));
    }
}

/// @dev Two invariants (each is its own fuzzing campaign). The CI profile's 256 x 64 would take
/// minutes on two cores for this handler; 64 runs keep the whole forge run affordable.
contract ShipmentEscrowV2InvariantTest is EscrowV2InvariantBase {
    /// forge-config: ci.invariant.runs = 64
    /// @dev Money: balances equal what is held and owed; nobody got more than owed.
    function invariant_accounting() public view {
        _checkBalances(_records());
        _checkOwed();
    }

    /// forge-config: ci.invariant.runs = 64
    /// @dev Life cycle: splits add up, final shipments never change, each settles once.
    function invariant_lifeCycle() public view {
        _checkLifeCycle(_records());
    }
}

/// @dev One scripted walk through every state and action with the handler's bounded inputs
/// (ghost coverage, so no invariant holds vacuously).
contract EscrowV2HandlerCoverageTest is EscrowV2InvariantBase {
    function test_handler_reachesEveryStateAndAction() public {
        for (uint256 i = 0; i < 10; ++i) {
            handler.fund(i, i, i, 10 ether + i, 20, 3000, 2 days, uint8(i % 3));
        }
        handler.warp(1 days);
        for (uint256 i = 0; i < 4; ++i) {
            handler.attest(i, 60, 1, i % 2 == 0);
        }
        handler.openDispute(0, false);
        handler.resolveDispute(0, 4 ether);
        handler.mutualRelease(1, 3 ether);
        handler.openDispute(2, true);
        handler.warp(1 days); // deadline reached for the unattested ones
        handler.openDispute(6, false); // unattested dispute (6 names an arbiter)
        handler.attest(6, 0, 0, false); // ... attested during it
        handler.togglePause();
        handler.warp(2 days);
        handler.togglePause();
        handler.settle(0);
        handler.warp(3 days);
        handler.settle(0);
        handler.settle(0);
        handler.warp(3 days);
        handler.refund(0);
        for (uint256 i = 0; i < 4; ++i) {
            for (uint256 t = 0; t < 3; ++t) {
                handler.withdraw(i, t);
            }
        }
        bytes4[] memory actions = _actions();
        for (uint256 i = 0; i < actions.length; ++i) {
            assertGt(handler.applied(actions[i]), 0, "an action never got past its guard");
        }
        for (uint8 s = 1; s <= uint8(IShipmentEscrowV2.State.Refunded); ++s) {
            assertGt(handler.entered(IShipmentEscrowV2.State(s)), 0, "a state was never entered");
        }
        assertGt(handler.unattestedDisputes(), 0, "no dispute without attestation");
        assertGt(handler.attestationsInDispute(), 0, "no attestation during a dispute");
        IShipmentEscrowV2.Shipment[] memory records = _records();
        _checkBalances(records);
        _checkOwed();
        _checkLifeCycle(records);
    }
}
