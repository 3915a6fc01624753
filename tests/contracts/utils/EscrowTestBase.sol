// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {IShipmentEscrow} from "../../../contracts/interfaces/IShipmentEscrow.sol";
import {ITraceAnchor} from "../../../contracts/interfaces/ITraceAnchor.sol";
import {ChaintraceTest} from "./ChaintraceTest.sol";
import {FeeOnTransferToken, TestToken} from "./tokens/TestTokens.sol";

/// @dev Escrow fixtures: default terms, signing, and shortcuts through the life cycle.
abstract contract EscrowTestBase is ChaintraceTest {
    bytes32 internal constant SHIPMENT_ID = keccak256("shipment-1");
    uint256 internal constant AMOUNT = 10 ether;
    uint64 internal constant DEADLINE_IN = 3 days;
    uint64 internal constant REFUND_GRACE = 1 days;
    uint64 internal constant DISPUTE_WINDOW = 2 days;
    uint64 internal constant DISPUTE_TIMEOUT = 7 days;

    function _terms() internal view returns (IShipmentEscrow.Terms memory) {
        return IShipmentEscrow.Terms({
            shipmentId: SHIPMENT_ID,
            buyer: buyer,
            payee: payee,
            token: address(0),
            amount: AMOUNT,
            minTempCentiC: 200,
            maxTempCentiC: 800,
            graceMinutes: 15,
            penaltyBpsPerMinute: 10,
            penaltyCapBps: 3000,
            maxGapMinutes: 30,
            deadline: uint64(block.timestamp) + DEADLINE_IN,
            refundGrace: REFUND_GRACE,
            disputeWindow: DISPUTE_WINDOW,
            arbiter: arbiter,
            disputeTimeout: DISPUTE_TIMEOUT
        });
    }

    /// @dev Deploys a plain test token and a 1 % fee-on-transfer token, and allowlists both.
    function _allowedTestTokens() internal returns (TestToken token, FeeOnTransferToken feeToken) {
        token = new TestToken("Test token", "TST");
        feeToken = new FeeOnTransferToken(100); // 1 %
        vm.startPrank(admin);
        escrow.setTokenAllowed(address(token), true);
        escrow.setTokenAllowed(address(feeToken), true);
        vm.stopPrank();
    }

    function _signTerms(IShipmentEscrow.Terms memory terms, uint256 key) internal view returns (bytes memory) {
        return _sign(key, escrow.termsDigest(terms));
    }

    function _fund(IShipmentEscrow.Terms memory terms) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.prank(terms.buyer);
        escrow.fund{value: terms.amount}(terms, buyerSig, payeeSig);
    }

    /// @dev Signs `terms` as buyer and payee, then expects fund to revert with `revertData`.
    function _fundExpectRevert(IShipmentEscrow.Terms memory terms, bytes memory revertData) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        vm.deal(terms.buyer, terms.amount);
        vm.prank(terms.buyer);
        vm.expectRevert(revertData);
        escrow.fund{value: terms.amount}(terms, buyerSig, payeeSig);
    }

    function _attestation(IShipmentEscrow.Terms memory terms, uint32 excursionMinutes)
        internal
        view
        returns (IShipmentEscrow.DeliveryAttestation memory)
    {
        return IShipmentEscrow.DeliveryAttestation({
            shipmentId: terms.shipmentId,
            termsHash: escrow.hashTerms(terms),
            evidenceRoot: keccak256(abi.encode("evidence", terms.shipmentId)),
            excursionMinutes: excursionMinutes,
            deliveredAt: uint64(block.timestamp)
        });
    }

    function _signAttestation(IShipmentEscrow.DeliveryAttestation memory a, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        return _sign(key, escrow.attestationDigest(a));
    }

    /// @dev Funds `terms`, lets one day pass, and submits an oracle attestation from a stranger.
    function _fundAndAttest(IShipmentEscrow.Terms memory terms, uint32 excursionMinutes) internal {
        _fund(terms);
        vm.warp(block.timestamp + 1 days);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, excursionMinutes);
        bytes memory sig = _signAttestation(a, oracleKey);
        vm.prank(stranger);
        escrow.attest(a, sig);
    }

    function _state(bytes32 shipmentId) internal view returns (IShipmentEscrow.State) {
        return escrow.shipment(shipmentId).state;
    }

    function _invalidState(bytes32 shipmentId, IShipmentEscrow.State state) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IShipmentEscrow.EscrowInvalidState.selector, shipmentId, state);
    }

    // ---------------------------------------------------------------- evidence

    /// @dev A reading of the test device, distinct per `seq`.
    function _reading(uint64 seq, int32 temperatureCentiC) internal view returns (ITraceAnchor.Reading memory) {
        return ITraceAnchor.Reading({
            device: device,
            seq: seq,
            takenAtMs: uint64(block.timestamp) * 1000 + seq,
            temperatureCentiC: temperatureCentiC,
            humidityCentiPct: 5000,
            shockMilliG: 10,
            latE7: 520_000_000,
            lonE7: 40_000_000
        });
    }

    function _signReading(ITraceAnchor.Reading memory reading, uint256 key) internal view returns (bytes memory) {
        return _sign(key, traceAnchor.readingDigest(reading));
    }

    function _leafOf(ITraceAnchor.Reading memory reading) internal view returns (bytes32) {
        return escrow.evidenceLeaf(traceAnchor.readingDigest(reading));
    }

    /// @dev The evidence root over two readings (a sorted pair, as StandardMerkleTree builds it);
    /// each reading's proof is the other's leaf.
    function _evidenceRoot(ITraceAnchor.Reading memory a, ITraceAnchor.Reading memory b)
        internal
        view
        returns (bytes32)
    {
        return Hashes.commutativeKeccak256(_leafOf(a), _leafOf(b));
    }

    function _proof(bytes32 sibling) internal pure returns (bytes32[] memory proof) {
        proof = new bytes32[](1);
        proof[0] = sibling;
    }

    /// @dev Funds `terms` and attests them with the evidence root over readings 1 (in band) and 2.
    function _fundAndAttestWithEvidence(IShipmentEscrow.Terms memory terms, uint32 excursionMinutes)
        internal
        returns (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2)
    {
        _fund(terms);
        vm.warp(block.timestamp + 1 days);
        r1 = _reading(1, 500);
        r2 = _reading(2, 1200);
        IShipmentEscrow.DeliveryAttestation memory a = _attestation(terms, excursionMinutes);
        a.evidenceRoot = _evidenceRoot(r1, r2);
        escrow.attest(a, _signAttestation(a, oracleKey));
    }

    /// @dev Funds, attests with evidence and opens a dispute as the buyer.
    function _disputed(IShipmentEscrow.Terms memory terms, uint32 excursionMinutes)
        internal
        returns (ITraceAnchor.Reading memory r1, ITraceAnchor.Reading memory r2)
    {
        (r1, r2) = _fundAndAttestWithEvidence(terms, excursionMinutes);
        vm.prank(terms.buyer);
        escrow.openDispute(terms.shipmentId);
    }
}
