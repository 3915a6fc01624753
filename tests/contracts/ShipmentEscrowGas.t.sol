// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";
import {TestToken} from "./utils/tokens/TestTokens.sol";

/// @dev One successful call of each value-moving function, for `forge test --gas-report
/// --match-contract ShipmentEscrowGasTest` (the README's gas figures): every row is one path.
contract ShipmentEscrowGasTest is EscrowTestBase {
    function test_gas_ethLifeCycleWithDispute() public {
        IShipmentEscrow.Terms memory terms = _terms();
        (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2) = _disputed(terms, 100);
        bytes memory sig = _signReading(r2, deviceKey);
        bytes32[] memory proof = _proof(_leafOf(r1));
        vm.prank(payee);
        escrow.submitEvidence(SHIPMENT_ID, r2, sig, proof);
        vm.prank(arbiter);
        escrow.resolveDispute(SHIPMENT_ID, 8 ether);
        vm.prank(payee);
        escrow.withdraw(ETH);
        assertEq(payee.balance, 8 ether);
    }

    function test_gas_tokenLifeCycleWithSettle() public {
        TestToken token = new TestToken("Test token", "TST");
        vm.prank(admin);
        escrow.setTokenAllowed(address(token), true);
        IShipmentEscrow.Terms memory terms = _terms();
        terms.token = address(token);
        token.mint(buyer, AMOUNT);
        vm.prank(buyer);
        token.approve(address(escrow), AMOUNT);
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.prank(buyer);
        escrow.fund(terms, buyerSig, payeeSig);
        vm.warp(block.timestamp + 1 hours);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, 100);
        escrow.attest(a, _signAttestation(a, oracleKey));
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow.settle(SHIPMENT_ID);
        vm.prank(payee);
        escrow.withdraw(address(token));
        assertEq(token.balanceOf(payee), 9 ether);
    }
}
