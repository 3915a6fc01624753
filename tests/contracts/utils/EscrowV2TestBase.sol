// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {ShipmentEscrowV2} from "../../../contracts/ShipmentEscrowV2.sol";
import {IShipmentEscrowV2} from "../../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ITraceAnchor} from "../../../contracts/interfaces/ITraceAnchor.sol";
import {ChaintraceTest} from "./ChaintraceTest.sol";

/// @dev Escrow v2 fixtures: a carrier, a guardian, two devices, default terms, signing, and
/// shortcuts through the life cycle.
abstract contract EscrowV2TestBase is ChaintraceTest {
    bytes32 internal constant SHIPMENT_ID = keccak256("shipment-v2-1");
    uint256 internal constant AMOUNT = 10 ether;
    uint48 internal constant ADMIN_DELAY = 2 days;
    uint64 internal constant FUND_BY_IN = 1 days;
    uint64 internal constant DEADLINE_IN = 3 days;
    uint64 internal constant REFUND_GRACE = 1 days;
    uint64 internal constant DISPUTE_WINDOW = 2 days;
    uint64 internal constant DISPUTE_TIMEOUT = 7 days;
    uint64 internal constant AUTO_ACCEPT = 2 hours;
    uint32 internal constant DWELL_MINUTES = 20;

    ShipmentEscrowV2 internal escrow2;
    address internal carrier;
    uint256 internal carrierKey;
    address internal guardian;
    address internal device2;
    uint256 internal device2Key;
    address internal outsider;
    uint256 internal outsiderKey;

    function setUp() public virtual override {
        super.setUp();
        (carrier, carrierKey) = makeAddrAndKey("carrier");
        guardian = makeAddr("guardian");
        (device2, device2Key) = makeAddrAndKey("device2");
        (outsider, outsiderKey) = makeAddrAndKey("outsider");
        escrow2 = new ShipmentEscrowV2(admin, ADMIN_DELAY, address(traceAnchor));
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        bytes32 guardianRole = escrow2.GUARDIAN_ROLE();
        vm.startPrank(admin);
        escrow2.grantRole(oracleRole, oracle);
        escrow2.grantRole(guardianRole, guardian);
        vm.stopPrank();
    }

    function _devicesRoot() internal view returns (bytes32) {
        return Hashes.commutativeKeccak256(escrow2.deviceLeaf(device), escrow2.deviceLeaf(device2));
    }

    /// @dev The proof of `device` (one of the two) in {_devicesRoot}: the other device's leaf.
    function _deviceProof(address d) internal view returns (bytes32[] memory proof) {
        proof = new bytes32[](1);
        proof[0] = escrow2.deviceLeaf(d == device ? device2 : device);
    }

    function _terms() internal view returns (IShipmentEscrowV2.Terms memory t) {
        t.shipmentId = SHIPMENT_ID;
        t.buyer = buyer;
        t.payee = payee;
        t.carrier = carrier;
        t.token = address(0);
        t.amount = AMOUNT;
        t.minTempCentiC = 200;
        t.maxTempCentiC = 800;
        t.minHumidityCentiPct = 3000;
        t.maxHumidityCentiPct = 8500;
        t.maxShockMilliG = 2500;
        t.graceMinutes = 15;
        t.penaltyBpsPerMinute = 10;
        t.penaltyBpsPerShock = 50;
        t.penaltyBpsPerLateHour = 20;
        t.penaltyCapBps = 3000;
        t.maxGapMinutes = 30;
        t.fundBy = uint64(block.timestamp) + FUND_BY_IN;
        t.deadline = uint64(block.timestamp) + DEADLINE_IN;
        t.refundGrace = REFUND_GRACE;
        t.disputeWindow = DISPUTE_WINDOW;
        t.arbiter = arbiter;
        t.disputeTimeout = DISPUTE_TIMEOUT;
        t.devicesRoot = _devicesRoot();
        t.destLatE7 = 535_511_000;
        t.destLonE7 = -99_937_000;
        t.destRadiusM = 500;
        t.arrivalDwellMinutes = DWELL_MINUTES;
        t.autoAcceptAfter = AUTO_ACCEPT;
        t.oracle = oracle;
    }

    function _signTerms(IShipmentEscrowV2.Terms memory terms, uint256 key) internal view returns (bytes memory) {
        return _sign(key, escrow2.termsDigest(terms));
    }

    function _fund(IShipmentEscrowV2.Terms memory terms) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        bytes memory carrierSig = _signTerms(terms, carrierKey);
        vm.deal(terms.buyer, terms.amount);
        vm.prank(terms.buyer);
        escrow2.fund{value: terms.amount}(terms, buyerSig, payeeSig, carrierSig);
    }

    /// @dev Signs `terms` as buyer, payee and carrier, then expects fund to revert with `revertData`.
    function _fundExpectRevert(IShipmentEscrowV2.Terms memory terms, bytes memory revertData) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        bytes memory carrierSig = _signTerms(terms, carrierKey);
        vm.deal(terms.buyer, terms.amount);
        vm.prank(terms.buyer);
        vm.expectRevert(revertData);
        escrow2.fund{value: terms.amount}(terms, buyerSig, payeeSig, carrierSig);
    }

    /// @dev As {_fundExpectRevert}, matching only the error's selector.
    function _fundExpectRevertSelector(IShipmentEscrowV2.Terms memory terms, bytes4 selector) internal {
        bytes memory buyerSig = _signTerms(terms, buyerKey);
        bytes memory payeeSig = _signTerms(terms, payeeKey);
        bytes memory carrierSig = _signTerms(terms, carrierKey);
        vm.deal(terms.buyer, terms.amount);
        vm.prank(terms.buyer);
        vm.expectPartialRevert(selector);
        escrow2.fund{value: terms.amount}(terms, buyerSig, payeeSig, carrierSig);
    }

    /// @dev A receiving-basis attestation delivered now, window from funding day.
    function _attestation(IShipmentEscrowV2.Terms memory terms, uint32 excursionMinutes)
        internal
        view
        returns (IShipmentEscrowV2.DeliveryAttestation memory a)
    {
        a.shipmentId = terms.shipmentId;
        a.termsHash = escrow2.hashTerms(terms);
        a.evidenceRoot = keccak256(abi.encode("evidence", terms.shipmentId));
        a.excursionMinutes = excursionMinutes;
        a.shockCount = 0;
        a.windowStart = uint64(block.timestamp) - 1 hours;
        a.deliveredAt = uint64(block.timestamp);
        a.deliveryBasis = 0;
    }

    function _signAttestation(IShipmentEscrowV2.DeliveryAttestation memory a) internal view returns (bytes memory) {
        return _sign(oracleKey, escrow2.attestationDigest(a));
    }

    function _attest(IShipmentEscrowV2.Terms memory terms, IShipmentEscrowV2.DeliveryAttestation memory a) internal {
        bytes memory sig = _signAttestation(a);
        vm.prank(stranger);
        escrow2.attest(terms, a, sig);
    }

    /// @dev Funds `terms`, lets one day pass, and attests `excursionMinutes` delivered now.
    function _fundAndAttest(IShipmentEscrowV2.Terms memory terms, uint32 excursionMinutes)
        internal
        returns (IShipmentEscrowV2.DeliveryAttestation memory a)
    {
        _fund(terms);
        vm.warp(block.timestamp + 1 days);
        a = _attestation(terms, excursionMinutes);
        _attest(terms, a);
    }

    function _state(bytes32 shipmentId) internal view returns (IShipmentEscrowV2.State) {
        return escrow2.shipment(shipmentId).state;
    }

    function _invalidState(bytes32 shipmentId, IShipmentEscrowV2.State state) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IShipmentEscrowV2.EscrowV2InvalidState.selector, shipmentId, state);
    }

    function _release(bytes32 shipmentId, uint256 payout, uint256 buyerK, uint256 payeeK) internal {
        bytes32 digest = escrow2.mutualReleaseDigest(shipmentId, payout);
        escrow2.mutualRelease(shipmentId, payout, _sign(buyerK, digest), _sign(payeeK, digest));
    }

    // ---------------------------------------------------------------- evidence

    /// @dev A reading of `d` taken at `takenAt` (seconds), distinct per `seq`.
    function _reading(address d, uint64 seq, uint64 takenAt) internal pure returns (ITraceAnchor.Reading memory) {
        return ITraceAnchor.Reading({
            device: d,
            seq: seq,
            takenAtMs: takenAt * 1000 + 7,
            temperatureCentiC: 1200,
            humidityCentiPct: 5000,
            shockMilliG: 10,
            latE7: 535_511_000,
            lonE7: -99_937_000
        });
    }

    function _signReading(ITraceAnchor.Reading memory reading, uint256 key) internal view returns (bytes memory) {
        return _sign(key, escrow2.readingDigest(reading));
    }

    function _evidenceLeafOf(ITraceAnchor.Reading memory reading) internal view returns (bytes32) {
        return escrow2.evidenceLeaf(escrow2.readingDigest(reading));
    }

    function _one(bytes32 sibling) internal pure returns (bytes32[] memory proof) {
        proof = new bytes32[](1);
        proof[0] = sibling;
    }
}
