// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";
import {TestToken} from "./utils/tokens/TestTokens.sol";

/// @dev One successful call of each value-moving function of escrow v2, for `forge test
/// --gas-report --match-contract ShipmentEscrowV2GasTest` (docs/escrow.md's v2 gas table).
contract ShipmentEscrowV2GasTest is EscrowV2TestBase {
    function test_gas_ethArrivalWithDisputeAndEvidence() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrowV2.DeliveryAttestation memory a = _attestation(t, 100);
        a.deliveryBasis = 1;
        a.deliveredAt = uint64(block.timestamp) - uint64(DWELL_MINUTES) * 60 - AUTO_ACCEPT;
        a.windowStart = a.deliveredAt - 1 days;
        ITraceAnchor.Reading memory r1 = _reading(device, 1, a.windowStart + 60);
        ITraceAnchor.Reading memory r2 = _reading(device2, 2, a.windowStart + 120);
        bytes32 l1 = _evidenceLeafOf(r1);
        bytes32 l2 = _evidenceLeafOf(r2);
        a.evidenceRoot = l1 < l2 ? keccak256(abi.encode(l1, l2)) : keccak256(abi.encode(l2, l1));
        _attest(t, a);
        vm.prank(buyer);
        escrow2.openDispute(SHIPMENT_ID);
        bytes memory sig = _signReading(r1, deviceKey);
        bytes32[] memory dProof = _deviceProof(device);
        bytes32[] memory eProof = _one(l2);
        vm.prank(carrier);
        escrow2.submitEvidence(SHIPMENT_ID, r1, sig, dProof, eProof);
        vm.prank(arbiter);
        escrow2.resolveDispute(SHIPMENT_ID, 8 ether);
        vm.prank(payee);
        escrow2.withdraw(ETH);
        assertEq(escrow2.owed(ETH, payee), 0);
    }

    function test_gas_tokenLifeCycleWithSettle() public {
        TestToken token = new TestToken("Test token", "TST");
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
        vm.warp(block.timestamp + 1 hours);
        _attest(t, _attestation(t, 100));
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        escrow2.settle(SHIPMENT_ID);
        vm.prank(payee);
        escrow2.withdraw(address(token));
        assertEq(token.balanceOf(payee), 9 ether);
    }

    function test_gas_mutualRelease() public {
        _fund(_terms());
        _release(SHIPMENT_ID, 6 ether, buyerKey, payeeKey);
        assertEq(escrow2.owed(ETH, payee), 6 ether);
    }

    function test_gas_refund() public {
        IShipmentEscrowV2.Terms memory t = _terms();
        _fund(t);
        vm.warp(uint256(t.deadline) + t.refundGrace + 1);
        escrow2.refund(SHIPMENT_ID);
        assertEq(escrow2.owed(ETH, buyer), AMOUNT);
    }
}
