// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {ShipmentEscrowV2} from "../../../contracts/ShipmentEscrowV2.sol";
import {IShipmentEscrowV2} from "../../../contracts/interfaces/IShipmentEscrowV2.sol";
import {TestToken} from "./tokens/TestTokens.sol";

/// @dev Drives escrow v2 through random valid life cycles for the invariant tests, across ETH and
/// two tokens (the second fee-on-transfer), with the oracle paused and unpaused on the way. Every
/// action looks for a shipment it applies to and otherwise does nothing, so no call is expected
/// to revert (`fail_on_revert = true`).
contract EscrowV2Handler is CommonBase, StdCheats, StdUtils {
    uint256 private constant ACTORS = 4;
    /// @dev Enough shipments for every state at once; more would only slow each check down.
    uint256 private constant MAX_SHIPMENTS = 12;
    uint256 public constant TOKENS = 3;
    uint32 private constant DWELL_MINUTES = 20;
    uint64 private constant AUTO_ACCEPT = 2 hours;

    ShipmentEscrowV2 public immutable escrow;
    address public immutable oracle;
    uint256 private immutable _oracleKey;
    address public immutable guardian;
    address public immutable arbiter;
    address private immutable _carrier;
    uint256 private immutable _carrierKey;
    address[] public actors;
    uint256[] private _keys;
    /// @dev tokens[0] is ETH (address(0)); tokens[2] takes a fee on every transfer.
    address[TOKENS] public tokens;
    bytes32[] public ids;

    mapping(bytes32 id => IShipmentEscrowV2.Terms) private _terms;
    /// @dev keccak256 of the shipment record when it became final (Settled or Refunded).
    mapping(bytes32 id => bytes32) public finalRecord;
    /// @dev Credited and withdrawn per (token, account), from the shipments' final splits.
    mapping(address token => mapping(address account => uint256)) public ghostCredited;
    mapping(address token => mapping(address account => uint256)) public ghostWithdrawn;
    /// @dev How many calls of each action got past their guards and changed the escrow.
    mapping(bytes4 selector => uint256) public applied;
    /// @dev How many shipments entered each state (ghost coverage of the life cycle).
    mapping(IShipmentEscrowV2.State state => uint256) public entered;
    /// @dev Disputes opened without an attestation, and attestations made during one.
    uint256 public unattestedDisputes;
    uint256 public attestationsInDispute;

    constructor(ShipmentEscrowV2 escrow_, uint256 oracleKey_, address guardian_, address token, address feeToken) {
        escrow = escrow_;
        _oracleKey = oracleKey_;
        oracle = vm.addr(oracleKey_);
        guardian = guardian_;
        arbiter = makeAddr("v2-handler-arbiter");
        (_carrier, _carrierKey) = makeAddrAndKey("v2-handler-carrier");
        tokens = [address(0), token, feeToken];
        for (uint256 i = 0; i < ACTORS; ++i) {
            (address actor, uint256 key) = makeAddrAndKey(string.concat("v2-actor", vm.toString(i)));
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

    // ---------------------------------------------------------------- actions

    function fund(
        uint256 buyerSeed,
        uint256 payeeSeed,
        uint256 tokenSeed,
        uint256 amount,
        uint32 bpsPerMinute,
        uint32 capBps,
        uint64 deadlineIn,
        uint8 flags
    ) external {
        if (ids.length >= MAX_SHIPMENTS || escrow.isOraclePaused(oracle)) return;
        uint256 b = buyerSeed % ACTORS;
        uint256 p = (b + 1 + payeeSeed % (ACTORS - 1)) % ACTORS;
        IShipmentEscrowV2.Terms storage t = _terms[keccak256(abi.encode("invariant-v2", ids.length))];
        t.shipmentId = keccak256(abi.encode("invariant-v2", ids.length));
        t.buyer = actors[b];
        t.payee = actors[p];
        t.carrier = flags & 1 == 0 ? actors[p] : _carrier;
        t.token = tokens[tokenSeed % TOKENS];
        t.amount = bound(amount, 1, 1e30);
        t.minTempCentiC = 200;
        t.maxTempCentiC = 800;
        t.graceMinutes = 15;
        t.penaltyBpsPerMinute = bpsPerMinute;
        t.penaltyBpsPerShock = 50;
        t.penaltyBpsPerLateHour = 100;
        t.penaltyCapBps = uint32(bound(capBps, 0, 10_000));
        t.maxGapMinutes = 30;
        t.fundBy = uint64(block.timestamp);
        t.deadline = uint64(block.timestamp + bound(deadlineIn, 1 hours, 5 days));
        t.refundGrace = 1 days;
        t.disputeWindow = 2 days;
        bool withArbiter = flags & 2 == 0;
        t.arbiter = withArbiter ? arbiter : address(0);
        t.disputeTimeout = 3 days;
        t.devicesRoot = keccak256("devices");
        t.destRadiusM = 500;
        t.arrivalDwellMinutes = DWELL_MINUTES;
        t.autoAcceptAfter = withArbiter ? AUTO_ACCEPT : 0;
        t.oracle = oracle;
        IShipmentEscrowV2.Terms memory terms = t;
        bytes32 digest = escrow.termsDigest(terms);
        bytes memory buyerSig = _sign(_keys[b], digest);
        bytes memory payeeSig = _sign(_keys[p], digest);
        bytes memory carrierSig = terms.carrier == _carrier ? _sign(_carrierKey, digest) : bytes("");
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
        escrow.fund{value: value}(terms, buyerSig, payeeSig, carrierSig);
        ids.push(terms.shipmentId);
        _entered(IShipmentEscrowV2.State.Funded, this.fund.selector);
    }

    function attest(uint256 idSeed, uint32 excursionMinutes, uint32 shocks, bool arrival) external {
        if (escrow.isOraclePaused(oracle)) return;
        (bool found, bytes32 id, IShipmentEscrowV2.Shipment memory s) = _find(idSeed, _attestable);
        if (!found) return;
        IShipmentEscrowV2.Terms memory t = _terms[id];
        IShipmentEscrowV2.DeliveryAttestation memory a;
        a.shipmentId = id;
        a.termsHash = s.termsHash;
        a.evidenceRoot = keccak256(abi.encode("evidence", id));
        a.excursionMinutes = uint32(bound(excursionMinutes, 0, 2000));
        a.shockCount = uint32(bound(shocks, 0, 50));
        a.deliveredAt = uint64(block.timestamp);
        uint64 waitForArrival = uint64(DWELL_MINUTES) * 60 + AUTO_ACCEPT;
        if (arrival && t.autoAcceptAfter != 0 && block.timestamp >= s.fundedAt + waitForArrival) {
            a.deliveryBasis = 1;
            a.deliveredAt = uint64(block.timestamp) - waitForArrival;
        }
        a.windowStart = s.fundedAt;
        escrow.attest(t, a, _sign(_oracleKey, escrow.attestationDigest(a)));
        if (s.state == IShipmentEscrowV2.State.Disputed) {
            ++attestationsInDispute;
            ++applied[this.attest.selector];
        } else {
            _entered(IShipmentEscrowV2.State.Attested, this.attest.selector);
        }
    }

    function openDispute(uint256 idSeed, bool byPayee) external {
        (bool found, bytes32 id, IShipmentEscrowV2.Shipment memory s) = _find(idSeed, _disputable);
        if (!found) return;
        vm.prank(byPayee ? s.payee : s.buyer);
        escrow.openDispute(id);
        if (s.attestedAt == 0) ++unattestedDisputes;
        _entered(IShipmentEscrowV2.State.Disputed, this.openDispute.selector);
    }

    function resolveDispute(uint256 idSeed, uint256 payoutSeed) external {
        (bool found, bytes32 id, IShipmentEscrowV2.Shipment memory s) = _find(idSeed, _arbitrable);
        if (!found) return;
        vm.prank(arbiter);
        escrow.resolveDispute(id, bound(payoutSeed, 0, s.amount));
        _final(id, this.resolveDispute.selector);
    }

    function mutualRelease(uint256 idSeed, uint256 payoutSeed) external {
        (bool found, bytes32 id, IShipmentEscrowV2.Shipment memory s) = _find(idSeed, _open);
        if (!found) return;
        uint256 payout = bound(payoutSeed, 0, s.amount);
        bytes32 digest = escrow.mutualReleaseDigest(id, payout);
        escrow.mutualRelease(id, payout, _sign(_keyOf(s.buyer), digest), _sign(_keyOf(s.payee), digest));
        _final(id, this.mutualRelease.selector);
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

    /// @dev The guardian flips the oracle's pause: attestations wait, deadlines move.
    function togglePause() external {
        bool paused = escrow.isOraclePaused(oracle);
        vm.prank(guardian);
        escrow.setOraclePaused(oracle, !paused);
        ++applied[this.togglePause.selector];
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 days));
        ++applied[this.warp.selector];
    }

    // ---------------------------------------------------------------- guards (mirror the contract)

    function _attestable(bytes32 id, IShipmentEscrowV2.Shipment memory s) private view returns (bool) {
        bool state = s.state == IShipmentEscrowV2.State.Funded
            || (s.state == IShipmentEscrowV2.State.Disputed && s.attestedAt == 0);
        return state && block.timestamp <= escrow.attestationDeadline(id);
    }

    function _disputable(bytes32 id, IShipmentEscrowV2.Shipment memory s) private view returns (bool) {
        if (s.arbiter == address(0)) return false;
        if (s.state == IShipmentEscrowV2.State.Attested) return block.timestamp < s.attestedAt + s.disputeWindow;
        return s.state == IShipmentEscrowV2.State.Funded && block.timestamp >= s.deadline
            && block.timestamp <= escrow.attestationDeadline(id);
    }

    function _arbitrable(bytes32, IShipmentEscrowV2.Shipment memory s) private view returns (bool) {
        return s.state == IShipmentEscrowV2.State.Disputed && block.timestamp < s.disputedAt + s.disputeTimeout;
    }

    function _open(bytes32, IShipmentEscrowV2.Shipment memory s) private pure returns (bool) {
        return s.state == IShipmentEscrowV2.State.Funded || s.state == IShipmentEscrowV2.State.Attested
            || s.state == IShipmentEscrowV2.State.Disputed;
    }

    function _settleable(bytes32 id, IShipmentEscrowV2.Shipment memory s) private view returns (bool) {
        if (s.state == IShipmentEscrowV2.State.Attested) return block.timestamp >= s.attestedAt + s.disputeWindow;
        if (s.state != IShipmentEscrowV2.State.Disputed) return false;
        if (block.timestamp < s.disputedAt + s.disputeTimeout) return false;
        return s.attestedAt != 0 || block.timestamp > escrow.attestationDeadline(id);
    }

    function _refundable(bytes32 id, IShipmentEscrowV2.Shipment memory s) private view returns (bool) {
        return s.state == IShipmentEscrowV2.State.Funded && block.timestamp > escrow.attestationDeadline(id);
    }

    // ---------------------------------------------------------------- helpers

    /// @dev The first shipment from `seed` on (cyclically) that `applies` accepts.
    function _find(uint256 seed, function(bytes32, IShipmentEscrowV2.Shipment memory) view returns (bool) applies)
        private
        view
        returns (bool found, bytes32 id, IShipmentEscrowV2.Shipment memory s)
    {
        uint256 n = ids.length;
        for (uint256 k = 0; k < n; ++k) {
            id = ids[(seed % n + k) % n];
            s = escrow.shipment(id);
            if (applies(id, s)) return (true, id, s);
        }
    }

    function _keyOf(address actor) private view returns (uint256) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            if (actors[i] == actor) return _keys[i];
        }
        revert("unknown actor");
    }

    function _final(bytes32 id, bytes4 selector) private {
        IShipmentEscrowV2.Shipment memory s = escrow.shipment(id);
        finalRecord[id] = keccak256(abi.encode(s));
        ghostCredited[s.token][s.payee] += s.payout;
        ghostCredited[s.token][s.buyer] += s.refund;
        _entered(s.state, selector);
    }

    function _entered(IShipmentEscrowV2.State state, bytes4 selector) private {
        ++entered[state];
        ++applied[selector];
    }

    function _sign(uint256 key, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}
