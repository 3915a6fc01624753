// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {EscrowHandler} from "./utils/EscrowHandler.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";

/// @dev Whatever sequence of fund / attest / settle / refund / withdraw / time passing happens,
/// the escrow holds exactly what it owes, and every split adds up to its deposit.
contract ShipmentEscrowInvariantTest is EscrowTestBase {
    EscrowHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new EscrowHandler(escrow, oracleKey);
        targetContract(address(handler));
    }

    function invariant_balanceEqualsLiabilities() public view {
        uint256 held;
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            IShipmentEscrow.Shipment memory s = escrow.shipment(handler.ids(i));
            if (s.state == IShipmentEscrow.State.Funded || s.state == IShipmentEscrow.State.Attested) held += s.amount;
        }
        for (uint256 i = 0; i < handler.actorCount(); ++i) {
            held += escrow.owed(handler.actors(i));
        }
        assertEq(address(escrow).balance, held);
    }

    function invariant_depositsMinusWithdrawalsIsBalance() public view {
        assertEq(handler.ghostDeposited() - handler.ghostWithdrawn(), address(escrow).balance);
    }

    function invariant_splitAddsUpToDeposit() public view {
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            IShipmentEscrow.Shipment memory s = escrow.shipment(handler.ids(i));
            if (s.state == IShipmentEscrow.State.Funded) {
                assertEq(s.payout + s.refund, 0);
            } else {
                assertEq(s.payout + s.refund, s.amount);
            }
        }
    }

    /// @dev Each shipment takes each transition at most once: states count the applied calls.
    function invariant_statesMatchTransitions() public view {
        uint256[5] memory count;
        for (uint256 i = 0; i < handler.idCount(); ++i) {
            ++count[uint8(escrow.shipment(handler.ids(i)).state)];
        }
        assertEq(count[uint8(IShipmentEscrow.State.None)], 0);
        assertEq(handler.idCount(), handler.applied(EscrowHandler.fund.selector));
        assertEq(
            count[uint8(IShipmentEscrow.State.Attested)] + count[uint8(IShipmentEscrow.State.Settled)],
            handler.applied(EscrowHandler.attest.selector)
        );
        assertEq(count[uint8(IShipmentEscrow.State.Settled)], handler.applied(EscrowHandler.settle.selector));
        assertEq(count[uint8(IShipmentEscrow.State.Refunded)], handler.applied(EscrowHandler.refund.selector));
    }
}
