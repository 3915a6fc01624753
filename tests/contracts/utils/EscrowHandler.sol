// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {ShipmentEscrow} from "../../../contracts/ShipmentEscrow.sol";
import {IShipmentEscrow} from "../../../contracts/interfaces/IShipmentEscrow.sol";

/// @dev Drives the escrow through random valid life cycles for the invariant tests; every action
/// that would not apply to the chosen shipment is skipped, so no call is expected to revert.
contract EscrowHandler is CommonBase, StdCheats, StdUtils {
    uint256 private constant ACTORS = 4;

    ShipmentEscrow public immutable escrow;
    uint256 private immutable _oracleKey;
    address[] public actors;
    uint256[] private _keys;
    bytes32[] public ids;

    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    /// @dev How many calls of each action got past their guards and changed the escrow.
    mapping(bytes4 selector => uint256) public applied;

    constructor(ShipmentEscrow escrow_, uint256 oracleKey_) {
        escrow = escrow_;
        _oracleKey = oracleKey_;
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

    function fund(
        uint256 buyerSeed,
        uint256 payeeSeed,
        uint256 amount,
        uint32 bpsPerMinute,
        uint32 capBps,
        uint64 deadlineIn
    ) external {
        uint256 b = buyerSeed % ACTORS;
        uint256 p = (b + 1 + payeeSeed % (ACTORS - 1)) % ACTORS;
        IShipmentEscrow.Terms memory terms = IShipmentEscrow.Terms({
            shipmentId: keccak256(abi.encode("invariant", ids.length)),
            buyer: actors[b],
            payee: actors[p],
            token: address(0),
            amount: bound(amount, 1, 1e27),
            minTempCentiC: 200,
            maxTempCentiC: 800,
            graceMinutes: 15,
            penaltyBpsPerMinute: bpsPerMinute,
            penaltyCapBps: uint32(bound(capBps, 0, 10_000)),
            maxGapMinutes: 30,
            deadline: uint64(block.timestamp + bound(deadlineIn, 1, 5 days)),
            refundGrace: 1 days,
            disputeWindow: 2 days,
            arbiter: address(0),
            disputeTimeout: 7 days
        });
        bytes32 digest = escrow.termsDigest(terms);
        bytes memory buyerSig = _sign(_keys[b], digest);
        bytes memory payeeSig = _sign(_keys[p], digest);
        vm.deal(terms.buyer, terms.amount);
        vm.prank(terms.buyer);
        escrow.fund{value: terms.amount}(terms, buyerSig, payeeSig);
        ids.push(terms.shipmentId);
        ghostDeposited += terms.amount;
        ++applied[this.fund.selector];
    }

    function attest(uint256 idSeed, uint32 excursionMinutes, uint256 deliveredSeed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[idSeed % ids.length];
        IShipmentEscrow.Shipment memory s = escrow.shipment(id);
        if (s.state != IShipmentEscrow.State.Funded || block.timestamp > s.deadline + s.refundGrace) return;
        uint256 latest = block.timestamp < s.deadline ? block.timestamp : s.deadline;
        IShipmentEscrow.DeliveryAttestation memory a = IShipmentEscrow.DeliveryAttestation({
            shipmentId: id,
            termsHash: s.termsHash,
            evidenceRoot: keccak256(abi.encode(id, excursionMinutes)),
            excursionMinutes: excursionMinutes,
            deliveredAt: uint64(bound(deliveredSeed, 0, latest))
        });
        escrow.attest(a, _sign(_oracleKey, escrow.attestationDigest(a)));
        ++applied[this.attest.selector];
    }

    function settle(uint256 idSeed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[idSeed % ids.length];
        IShipmentEscrow.Shipment memory s = escrow.shipment(id);
        if (s.state != IShipmentEscrow.State.Attested || block.timestamp < s.attestedAt + s.disputeWindow) return;
        escrow.settle(id);
        ++applied[this.settle.selector];
    }

    function refund(uint256 idSeed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[idSeed % ids.length];
        IShipmentEscrow.Shipment memory s = escrow.shipment(id);
        if (s.state != IShipmentEscrow.State.Funded || block.timestamp <= s.deadline + s.refundGrace) return;
        escrow.refund(id);
        ++applied[this.refund.selector];
    }

    function withdraw(uint256 actorSeed) external {
        address actor = actors[actorSeed % ACTORS];
        uint256 amount = escrow.owed(actor);
        if (amount == 0) return;
        vm.prank(actor);
        escrow.withdraw();
        ghostWithdrawn += amount;
        ++applied[this.withdraw.selector];
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 days));
    }

    function _sign(uint256 key, bytes32 digest) private pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }
}
