// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {ShipmentEscrow} from "../../../contracts/ShipmentEscrow.sol";
import {TraceAnchor} from "../../../contracts/TraceAnchor.sol";
import {IShipmentEscrow} from "../../../contracts/interfaces/IShipmentEscrow.sol";
import {ITraceAnchor} from "../../../contracts/interfaces/ITraceAnchor.sol";
import {TestToken} from "./tokens/TestTokens.sol";

/// @dev Drives the escrow through random valid life cycles for the invariant tests, across ETH and
/// two tokens (the second fee-on-transfer). Every action looks for a shipment it applies to and
/// otherwise does nothing, so no call is expected to revert (`fail_on_revert = true`).
contract EscrowHandler is CommonBase, StdCheats, StdUtils {
    using {Hashes.commutativeKeccak256} for bytes32;

    uint256 private constant ACTORS = 4;
    /// @dev Enough shipments for every state at once; more would only slow each check down.
    uint256 private constant MAX_SHIPMENTS = 12;
    uint256 public constant TOKENS = 3;

    ShipmentEscrow public immutable escrow;
    TraceAnchor public immutable anchor;
    uint256 private immutable _oracleKey;
    address public immutable arbiter;
    address private immutable _device;
    uint256 private immutable _deviceKey;
    address[] public actors;
    uint256[] private _keys;
    /// @dev tokens[0] is ETH (address(0)); tokens[2] takes a fee on every transfer.
    address[TOKENS] public tokens;
    bytes32[] public ids;

    /// @dev Two readings per shipment, whose pair is the attested evidence root.
    mapping(bytes32 id => ITraceAnchor.Reading[2]) private _readings;
    /// @dev keccak256 of the shipment record when it became final (Settled or Refunded).
    mapping(bytes32 id => bytes32) public finalRecord;
    /// @dev Credited and withdrawn per (token, account), from the shipments' final splits.
    mapping(address token => mapping(address account => uint256)) public ghostCredited;
    mapping(address token => mapping(address account => uint256)) public ghostWithdrawn;
    uint256 public ghostForcedEth;
    /// @dev How many calls of each action got past their guards and changed the escrow.
    mapping(bytes4 selector => uint256) public applied;
    /// @dev How many shipments entered each state (ghost coverage of the life cycle).
    mapping(IShipmentEscrow.State state => uint256) public entered;

    constructor(ShipmentEscrow escrow_, TraceAnchor anchor_, uint256 oracleKey_, address token, address feeToken) {
        escrow = escrow_;
        anchor = anchor_;
        _oracleKey = oracleKey_;
        arbiter = makeAddr("handler-arbiter");
        (_device, _deviceKey) = makeAddrAndKey("handler-device");
        tokens = [address(0), token, feeToken];
        for (uint256 i = 0; i < ACTORS; ++i) {
            (address actor, uint256 key) = makeAddrAndKey(string.concat("actor", vm.toString(i)));
            actors.push(actor);
            _keys.push(key);
        }
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function actorCount() external pure returns (uint256) {
        return ACTORS;
    }

    function readingOf(bytes32 id, uint256 i) external view returns (ITraceAnchor.Reading memory) {
        return _readings[id][i];
    }

    // ---------------------------------------------------------------- actions

    function fund(
        uint256 buyerSeed,
        uint256 payeeSeed,
        uint256 tokenSeed,
        uint256 amount,
        uint32 bpsPerMinute,
        uint32 capBps,
        uint64 deadlineIn,
        bool withArbiter
    ) external {
        if (ids.length >= MAX_SHIPMENTS) return;
        uint256 b = buyerSeed % ACTORS;
        uint256 p = (b + 1 + payeeSeed % (ACTORS - 1)) % ACTORS;
        IShipmentEscrow.Terms memory terms = IShipmentEscrow.Terms({
            shipmentId: keccak256(abi.encode("invariant", ids.length)),
            buyer: actors[b],
            payee: actors[p],
            token: tokens[tokenSeed % TOKENS],
            amount: bound(amount, 1, 1e30),
            minTempCentiC: 200,
            maxTempCentiC: 800,
            graceMinutes: 15,
            penaltyBpsPerMinute: bpsPerMinute,
            penaltyCapBps: uint32(bound(capBps, 0, 10_000)),
            maxGapMinutes: 30,
            deadline: uint64(block.timestamp + bound(deadlineIn, 1, 5 days)),
            refundGrace: 1 days,
            disputeWindow: 2 days,
            arbiter: withArbiter ? arbiter : address(0),
            disputeTimeout: 3 days
        });
        bytes32 digest = escrow.termsDigest(terms);
        bytes memory buyerSig = _sign(_keys[b], digest);
        bytes memory payeeSig = _sign(_keys[p], digest);
        uint256 value;
        if (terms.token == address(0)) {
            vm.deal(terms.buyer, terms.amount);
            value = terms.amount;
        } else {
            TestToken(terms.token).mint(terms.buyer, terms.amount);
            vm.prank(terms.buyer);
            TestToken(terms.token).approve(address(escrow), terms.amount);
        }
        vm.prank(terms.buyer);
        escrow.fund{value: value}(terms, buyerSig, payeeSig);
        ids.push(terms.shipmentId);
        _readings[terms.shipmentId][0] = _reading(ids.length * 2, 500);
        _readings[terms.shipmentId][1] = _reading(ids.length * 2 + 1, 1500);
        _entered(IShipmentEscrow.State.Funded, this.fund.selector);
    }

    function attest(uint256 idSeed, uint32 excursionMinutes, uint256 deliveredSeed) external {
        (bool found, bytes32 id, IShipmentEscrow.Shipment memory s) = _find(idSeed, _attestable);
        if (!found) return;
        uint256 latest = block.timestamp < s.deadline ? block.timestamp : s.deadline;
        IShipmentEscrow.DeliveryAttestation memory a = IShipmentEscrow.DeliveryAttestation({
            shipmentId: id,
            termsHash: s.termsHash,
            evidenceRoot: _leaf(_readings[id][0]).commutativeKeccak256(_leaf(_readings[id][1])),
            excursionMinutes: excursionMinutes,
            deliveredAt: uint64(bound(deliveredSeed, 0, latest))
        });
        escrow.attest(a, _sign(_oracleKey, escrow.attestationDigest(a)));
        _entered(IShipmentEscrow.State.Attested, this.attest.selector);
    }

    function openDispute(uint256 idSeed, bool byPayee) external {
        (bool found, bytes32 id, IShipmentEscrow.Shipment memory s) = _find(idSeed, _disputable);
        if (!found) return;
        vm.prank(byPayee ? s.payee : s.buyer);
        escrow.openDispute(id);
        _entered(IShipmentEscrow.State.Disputed, this.openDispute.selector);
    }

    function submitEvidence(uint256 idSeed, bool second, bool byPayee) external {
        (bool found, bytes32 id, IShipmentEscrow.Shipment memory s) = _find(idSeed, _arbitrable);
        if (!found) return;
        ITraceAnchor.Reading memory reading = _readings[id][second ? 1 : 0];
        ITraceAnchor.Reading memory other = _readings[id][second ? 0 : 1];
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = _leaf(other);
        bytes memory signature = _sign(_deviceKey, anchor.readingDigest(reading));
        vm.prank(byPayee ? s.payee : s.buyer);
        escrow.submitEvidence(id, reading, signature, proof);
        ++applied[this.submitEvidence.selector];
    }

    function resolveDispute(uint256 idSeed, uint256 payoutSeed) external {
        (bool found, bytes32 id, IShipmentEscrow.Shipment memory s) = _find(idSeed, _arbitrable);
        if (!found) return;
        vm.prank(arbiter);
        escrow.resolveDispute(id, bound(payoutSeed, 0, s.amount));
        _final(id, this.resolveDispute.selector);
    }

    function settle(uint256 idSeed) external {
        (bool found, bytes32 id,) = _find(idSeed, _settleable);
        if (!found) return;
        escrow.settle(id);
        _final(id, this.settle.selector);
    }

    function refund(uint256 idSeed) external {
        (bool found, bytes32 id,) = _find(idSeed, _refundable);
        if (!found) return;
        escrow.refund(id);
        _final(id, this.refund.selector);
    }

    function withdraw(uint256 actorSeed, uint256 tokenSeed) external {
        address actor = actors[actorSeed % ACTORS];
        address token = tokens[tokenSeed % TOKENS];
        uint256 amount = escrow.owed(token, actor);
        if (amount == 0) return;
        vm.prank(actor);
        escrow.withdraw(token);
        ghostWithdrawn[token][actor] += amount;
        ++applied[this.withdraw.selector];
    }

    /// @dev ETH can reach any contract without its consent (selfdestruct, block rewards).
    function forceEth(uint256 amount) external {
        amount = bound(amount, 1, 1e20);
        vm.deal(address(escrow), address(escrow).balance + amount);
        ghostForcedEth += amount;
        ++applied[this.forceEth.selector];
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 days));
        ++applied[this.warp.selector];
    }

    // ---------------------------------------------------------------- guards

    function _attestable(IShipmentEscrow.Shipment memory s) private view returns (bool) {
        return s.state == IShipmentEscrow.State.Funded && block.timestamp <= s.deadline + s.refundGrace;
    }

    function _disputable(IShipmentEscrow.Shipment memory s) private view returns (bool) {
        return s.state == IShipmentEscrow.State.Attested && s.arbiter != address(0)
            && block.timestamp < s.attestedAt + s.disputeWindow;
    }

    function _arbitrable(IShipmentEscrow.Shipment memory s) private view returns (bool) {
        return s.state == IShipmentEscrow.State.Disputed && block.timestamp < s.disputedAt + s.disputeTimeout;
    }

    function _settleable(IShipmentEscrow.Shipment memory s) private view returns (bool) {
        return (s.state == IShipmentEscrow.State.Attested && block.timestamp >= s.attestedAt + s.disputeWindow)
            || (s.state == IShipmentEscrow.State.Disputed && block.timestamp >= s.disputedAt + s.disputeTimeout);
    }

    function _refundable(IShipmentEscrow.Shipment memory s) private view returns (bool) {
        return s.state == IShipmentEscrow.State.Funded && block.timestamp > s.deadline + s.refundGrace;
    }

    // ---------------------------------------------------------------- helpers

    /// @dev The first shipment from `seed` on (cyclically) that `applies` accepts.
    function _find(uint256 seed, function(IShipmentEscrow.Shipment memory) view returns (bool) applies)
        private
        view
        returns (bool found, bytes32 id, IShipmentEscrow.Shipment memory s)
    {
        uint256 n = ids.length;
        for (uint256 k = 0; k < n; ++k) {
            id = ids[(seed % n + k) % n];
            s = escrow.shipment(id);
            if (applies(s)) return (true, id, s);
        }
    }

    function _final(bytes32 id, bytes4 selector) private {
        IShipmentEscrow.Shipment memory s = escrow.shipment(id);
        finalRecord[id] = keccak256(abi.encode(s));
        ghostCredited[s.token][s.payee] += s.payout;
        ghostCredited[s.token][s.buyer] += s.refund;
        _entered(s.state, selector);
    }

    function _entered(IShipmentEscrow.State state, bytes4 selector) private {
        ++entered[state];
        ++applied[selector];
    }

    function _reading(uint256 seq, int32 temperature) private view returns (ITraceAnchor.Reading memory) {
        return ITraceAnchor.Reading({
            device: _device,
            seq: uint64(seq),
            takenAtMs: uint64(block.timestamp) * 1000,
            temperatureCentiC: temperature,
            humidityCentiPct: 4000,
            shockMilliG: 0,
            latE7: 0,
            lonE7: 0
        });
    }

    function _leaf(ITraceAnchor.Reading memory reading) private view returns (bytes32) {
        return escrow.evidenceLeaf(anchor.readingDigest(reading));
    }

    function _sign(uint256 key, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}
