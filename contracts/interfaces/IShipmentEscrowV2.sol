// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITraceAnchor} from "./ITraceAnchor.sol";

/**
 * @title IShipmentEscrowV2
 * @notice Escrow v2 for one shipment's price: funded against terms signed by buyer, payee and
 * carrier, split by the terms' oracle's delivery attestation (receiving or device arrival) with
 * temperature, humidity, shock and late-hour penalties, open to disputes (also when no
 * attestation came), to a mutual release by buyer and payee, and paid out by pull payments.
 * @dev The EIP-712 types and the settlement arithmetic are consensus-critical and fixed by
 * docs/formats.md (escrow v2). v1 (IShipmentEscrow) stays deployed beside this release.
 *
 * NOTE: Trust. The terms name the oracle, so the admin cannot put another one into a funded
 * shipment. The oracle decides `excursionMinutes`, `shockCount` and `deliveredAt` (within the
 * checks of {attest}), so it can move up to the penalty cap between payee and buyer. The arbiter
 * named in the terms can, during a dispute and before its timeout, split the deposit in any
 * proportion between buyer and payee. The admin (DEFAULT_ADMIN_ROLE, two-step transfer with a
 * delay) grants ORACLE_ROLE and GUARDIAN_ROLE and keeps the token allowlist; a guardian pauses
 * oracles. Pausing or revoking an oracle only delays: the time it is suspended extends both the
 * attestation deadline and the refund time of its shipments. Nobody can send a deposit to anyone
 * but the shipment's buyer and payee, and nobody but buyer and payee together can choose a split
 * outside the arbiter's dispute.
 */
interface IShipmentEscrowV2 {
    /**
     * @notice Life cycle: None -> Funded -> Attested -> Settled; Attested -> Disputed -> Settled;
     * Funded -> Disputed (from the deadline, no attestation) -> Settled; Funded -> Refunded; every
     * state before Settled -> Settled by a mutual release.
     */
    enum State {
        None,
        Funded,
        Attested,
        Disputed,
        Settled,
        Refunded
    }

    /// @notice Terms v2, signed by buyer, payee and carrier (EIP-712 `Terms`, docs/formats.md).
    /// @dev Times are unix seconds; `refundGrace`, `disputeWindow`, `disputeTimeout` and
    /// `autoAcceptAfter` are seconds; bounds of 0 switch the humidity and shock rules off.
    struct Terms {
        bytes32 shipmentId;
        address buyer;
        address payee;
        address carrier;
        address token;
        uint256 amount;
        int32 minTempCentiC;
        int32 maxTempCentiC;
        uint32 minHumidityCentiPct;
        uint32 maxHumidityCentiPct;
        uint32 maxShockMilliG;
        uint32 graceMinutes;
        uint32 penaltyBpsPerMinute;
        uint32 penaltyBpsPerShock;
        uint32 penaltyBpsPerLateHour;
        uint32 penaltyCapBps;
        uint32 maxGapMinutes;
        uint64 fundBy;
        uint64 deadline;
        uint64 refundGrace;
        uint64 disputeWindow;
        address arbiter;
        uint64 disputeTimeout;
        bytes32 devicesRoot;
        int32 destLatE7;
        int32 destLonE7;
        uint32 destRadiusM;
        uint32 arrivalDwellMinutes;
        uint64 autoAcceptAfter;
        address oracle;
    }

    /// @notice The oracle's delivery attestation v2 (EIP-712 `DeliveryAttestation`).
    /// @dev `deliveryBasis` 0 = the consignee's receiving, 1 = device arrival.
    struct DeliveryAttestation {
        bytes32 shipmentId;
        bytes32 termsHash;
        bytes32 evidenceRoot;
        uint32 excursionMinutes;
        uint32 shockCount;
        uint64 windowStart;
        uint64 deliveredAt;
        uint8 deliveryBasis;
    }

    /**
     * @notice What the escrow keeps of a shipment. The terms' remaining fields are passed again to
     * {attest} and checked against `termsHash`.
     * @dev `amount` is the deposit as received. `oracleSuspendedAtFund` is the terms' oracle's
     * {oracleSuspendedSeconds} at funding. `attestedAt`, `windowStart`, `deliveredAt`,
     * `evidenceRoot` are set by {attest}; `disputedAt` by {openDispute}; `payout` and `refund`
     * by {attest}, {resolveDispute}, {mutualRelease}, {settle} or {refund}.
     */
    struct Shipment {
        bytes32 termsHash;
        address buyer;
        uint64 fundedAt;
        State state;
        address payee;
        uint64 deadline;
        address carrier;
        uint64 refundGrace;
        address token;
        uint64 disputeWindow;
        address arbiter;
        uint64 disputeTimeout;
        address oracle;
        uint64 oracleSuspendedAtFund;
        uint256 amount;
        bytes32 devicesRoot;
        bytes32 evidenceRoot;
        uint64 attestedAt;
        uint64 disputedAt;
        uint64 windowStart;
        uint64 deliveredAt;
        uint256 payout;
        uint256 refund;
    }

    /// @notice Emitted when the buyer deposited `amount` (as received) of `token` under `termsHash`.
    event ShipmentFunded(
        bytes32 indexed shipmentId,
        bytes32 termsHash,
        address indexed buyer,
        address indexed payee,
        address token,
        uint256 amount
    );

    /// @notice Emitted when the terms' oracle's attestation fixed the attested split.
    /// @dev `penaltyBps` is the capped sum of the excursion, shock and late-hour penalties.
    event DeliveryAttested(
        bytes32 indexed shipmentId,
        bytes32 evidenceRoot,
        uint64 deliveredAt,
        uint8 deliveryBasis,
        uint256 penaltyBps,
        uint256 payout,
        uint256 refund
    );

    /// @notice Emitted when `party` (buyer or payee) opened a dispute; `attested` tells which kind.
    event DisputeOpened(bytes32 indexed shipmentId, address indexed party, bool attested);

    /// @notice Emitted when `submitter` put a reading of a device of the shipment on record.
    /// @dev `inAttestedEvidence` says whether the proof led to the attested evidence root.
    event EvidenceSubmitted(
        bytes32 indexed shipmentId,
        address indexed submitter,
        bytes32 readingDigest,
        ITraceAnchor.Reading reading,
        bool inAttestedEvidence
    );

    /// @notice Emitted when the arbiter resolved the dispute with this split.
    event DisputeResolved(bytes32 indexed shipmentId, address indexed arbiter, uint256 payout, uint256 refund);

    /// @notice Emitted when buyer and payee released the deposit together with this split.
    event MutuallyReleased(bytes32 indexed shipmentId, uint256 payout, uint256 refund);

    /// @notice Emitted when `payout` and `refund` were credited; the shipment is Settled.
    event ShipmentSettled(bytes32 indexed shipmentId, uint256 payout, uint256 refund);

    /// @notice Emitted when an unattested, undisputed shipment's whole `amount` was credited to the buyer.
    event ShipmentRefunded(bytes32 indexed shipmentId, uint256 amount);

    /// @notice Emitted when `account` withdrew `amount` of `token` it was owed.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    /// @notice Emitted when the admin added `token` to the allowlist (`allowed`) or removed it.
    event TokenAllowlistUpdated(address indexed token, bool allowed);

    /// @notice Emitted when `guardian` paused (`paused`) or unpaused `oracle`.
    event OraclePauseSet(address indexed oracle, address indexed guardian, bool paused);

    /// @notice The shipment is not in a state that allows the call.
    error EscrowV2InvalidState(bytes32 shipmentId, State state);

    /// @notice A shipment with this id was funded before; ids are funded once.
    error EscrowV2ShipmentExists(bytes32 shipmentId);

    /// @notice Only the buyer named in the terms may fund them.
    error EscrowV2NotBuyer(address caller, address buyer);

    /// @notice The token is neither ETH (`address(0)`) nor on the admin's allowlist.
    error EscrowV2UnsupportedToken(address token);

    /// @notice The allowlist takes only contracts (ETH is always accepted as `address(0)`).
    error EscrowV2InvalidToken(address token);

    /// @notice The deposit (as the terms state it, or as received) must be greater than zero.
    error EscrowV2ZeroAmount();

    /// @notice `msg.value` differs from what the call needs (the amount for ETH, zero for a token).
    error EscrowV2WrongAmount(uint256 expected, uint256 received);

    /// @notice Buyer, payee or carrier is zero, or the payee is the buyer.
    error EscrowV2InvalidParties(address buyer, address payee, address carrier);

    /// @notice The arbiter is a party, lacks a timeout, or is missing although `autoAcceptAfter > 0`.
    error EscrowV2InvalidArbiter(address arbiter);

    /// @notice The temperature band is empty (`minTempCentiC > maxTempCentiC`).
    error EscrowV2InvalidTemperatureBand(int32 minTempCentiC, int32 maxTempCentiC);

    /// @notice The humidity bounds are neither both 0 (off) nor `min <= max <= 10000`.
    error EscrowV2InvalidHumidityBand(uint32 minHumidityCentiPct, uint32 maxHumidityCentiPct);

    /// @notice The penalty cap exceeds 10000 basis points.
    error EscrowV2InvalidPenaltyCap(uint32 penaltyCapBps);

    /// @notice The destination radius is outside 100 m to 50 km.
    error EscrowV2InvalidRadius(uint32 destRadiusM);

    /// @notice `autoAcceptAfter` is neither 0 (off) nor at least one hour.
    error EscrowV2InvalidAutoAccept(uint64 autoAcceptAfter);

    /// @notice `refundGrace` is shorter than `arrivalDwellMinutes * 60 + autoAcceptAfter + 3600`.
    error EscrowV2InvalidRefundGrace(uint64 refundGrace, uint256 minimum);

    /// @notice The terms name no device set (`devicesRoot == 0`).
    error EscrowV2NoDevices();

    /// @notice The deadline is not in the future.
    error EscrowV2InvalidDeadline(uint64 deadline);

    /// @notice `deadline + refundGrace + disputeWindow + disputeTimeout` does not fit a uint64.
    error EscrowV2InvalidDurations(uint64 deadline, uint64 refundGrace, uint64 disputeWindow, uint64 disputeTimeout);

    /// @notice The terms could be funded only until `fundBy`.
    error EscrowV2FundingClosed(uint64 fundBy);

    /// @notice A signature over the terms or a release is not valid for `expectedSigner`.
    error EscrowV2InvalidSignature(address expectedSigner);

    /// @notice The oracle lacks ORACLE_ROLE or is paused by a guardian.
    error EscrowV2OracleInactive(address oracle);

    /// @notice The terms passed do not hash to the terms the shipment was funded with.
    error EscrowV2TermsMismatch(bytes32 expected, bytes32 given);

    /// @notice The attestation is for another shipment.
    error EscrowV2ShipmentMismatch(bytes32 expected, bytes32 given);

    /// @notice `deliveredAt` is in the future, or `windowStart` is after `deliveredAt`.
    error EscrowV2InvalidDeliveryTime(uint64 windowStart, uint64 deliveredAt);

    /// @notice `deliveryBasis` is neither 0 (receiving) nor 1 (device arrival).
    error EscrowV2InvalidDeliveryBasis(uint8 deliveryBasis);

    /// @notice Device arrival can be attested only when `autoAcceptAfter > 0`, from `acceptableAt` on.
    error EscrowV2ArrivalNotAcceptable(uint256 acceptableAt);

    /// @notice Attestations are accepted only until `expiredAt` (deadline + refundGrace + suspension).
    error EscrowV2AttestationExpired(uint256 expiredAt);

    /// @notice The dispute window is still open; {settle} succeeds from `endsAt` on.
    error EscrowV2DisputeWindowOpen(uint256 endsAt);

    /// @notice No dispute can be opened now (window closed, before the deadline, or after the refund time).
    error EscrowV2DisputeNotOpenable(bytes32 shipmentId);

    /// @notice The terms name no arbiter, so there can be no dispute.
    error EscrowV2NoArbiter(bytes32 shipmentId);

    /// @notice Only the shipment's buyer or payee (or carrier, for evidence) may make this call.
    error EscrowV2NotParty(address caller);

    /// @notice Only the arbiter named in the terms may resolve the dispute.
    error EscrowV2NotArbiter(address caller, address arbiter);

    /// @notice The dispute is still the arbiter's to resolve; {settle} succeeds from `settleableAt` on.
    error EscrowV2DisputePending(uint256 settleableAt);

    /// @notice The dispute timed out at `timedOutAt`; only {settle} or a mutual release can end it.
    error EscrowV2DisputeTimedOut(uint256 timedOutAt);

    /// @notice The payout exceeds the deposit.
    error EscrowV2InvalidSplit(uint256 payout, uint256 amount);

    /// @notice The reading's signature does not recover to `device` (`signer` is what it recovers to).
    error EscrowV2InvalidReadingSignature(address device, address signer);

    /// @notice The proof does not show `device` in the shipment's `devicesRoot`.
    error EscrowV2DeviceNotInShipment(address device);

    /// @notice The reading was taken outside the shipment's window [`fromMs`, `toMs`].
    error EscrowV2ReadingOutsideWindow(uint64 takenAtMs, uint256 fromMs, uint256 toMs);

    /// @notice {refund} succeeds from `refundableAt` on (later while the oracle is suspended).
    error EscrowV2NotRefundable(uint256 refundableAt);

    /// @notice The account has no balance of the token to withdraw.
    error EscrowV2NothingOwed(address account, address token);

    /// @notice Sending `amount` ETH to `account` failed; its balance is kept.
    error EscrowV2TransferFailed(address account, uint256 amount);

    /// @notice The TraceAnchor given to the constructor is the zero address.
    error EscrowV2InvalidTraceAnchor();

    /// @notice The oracle is already in the requested pause state.
    error EscrowV2PauseUnchanged(address oracle, bool paused);

    // slither-disable-start naming-convention: constants' getters keep the constants' SCREAMING_CASE names
    /// @notice The role an oracle named in terms must hold to fund and to attest: `keccak256("ORACLE_ROLE")`.
    function ORACLE_ROLE() external view returns (bytes32);

    /// @notice The role that may pause and unpause oracles: `keccak256("GUARDIAN_ROLE")`.
    function GUARDIAN_ROLE() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Terms(...)` v2 as written in docs/formats.md.
    function TERMS_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `DeliveryAttestation(...)` v2 as written in docs/formats.md.
    function ATTESTATION_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `MutualRelease(bytes32 shipmentId,uint256 payout)`.
    function MUTUAL_RELEASE_TYPEHASH() external view returns (bytes32);

    /// @notice Domain tag of evidence leaf version 1: `keccak256("chaintrace.evidence.v1")`.
    function EVIDENCE_V1() external view returns (bytes32);

    /// @notice Domain tag of device-set leaf version 1: `keccak256("chaintrace.devices.v1")`.
    function DEVICES_V1() external view returns (bytes32);
    // slither-disable-end naming-convention

    /// @notice The TraceAnchor whose EIP-712 domain (this chain) devices sign readings in.
    function traceAnchor() external view returns (address);

    /**
     * @notice Adds `token` to the allowlist of deposit tokens, or removes it (`allowed = false`).
     * @dev Admin only. Removal stops new deposits only: existing deposits settle and withdraw.
     *
     * WARNING: Supported are plain ERC-20s and fee-on-transfer tokens (the deposit is what the
     * escrow received). Rebasing tokens, tokens with transfer hooks (ERC-777) and tokens that can
     * block or seize an address's balance are NOT supported: the admin must not list them.
     */
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Whether deposits in `token` are accepted (always true for ETH, `address(0)`).
    function isTokenAllowed(address token) external view returns (bool);

    /**
     * @notice Pauses (`paused`) or unpauses `oracle`: a paused oracle can neither attest nor be
     * named by newly funded terms. GUARDIAN_ROLE only.
     * @dev NOTE: Pausing only delays. While an oracle is suspended (paused, or without
     * ORACLE_ROLE) the attestation deadline and the refund time of every shipment naming it move
     * later by the suspended time, so a pause can neither let a buyer refund nor cost a payee its
     * attestation. Buyer and payee can still settle by {mutualRelease} or a dispute.
     */
    function setOraclePaused(address oracle, bool paused) external;

    /// @notice Whether a guardian has paused `oracle`.
    function isOraclePaused(address oracle) external view returns (bool);

    /// @notice Seconds `oracle` has been suspended (paused or without ORACLE_ROLE), summed, up to now.
    function oracleSuspendedSeconds(address oracle) external view returns (uint256);

    /**
     * @notice Deposits `terms.amount` of `terms.token` for `terms.shipmentId`; buyer, payee and
     * carrier must all have signed {termsDigest} (EOA or ERC-1271; when the carrier is the payee
     * the payee's signature serves for both and `carrierSig` is ignored).
     * @dev Only `terms.buyer`, until `terms.fundBy`, while `terms.oracle` holds ORACLE_ROLE and is
     * not paused, with the bounds of docs/escrow.md (v2). A token deposit is what arrived.
     */
    function fund(Terms calldata terms, bytes calldata buyerSig, bytes calldata payeeSig, bytes calldata carrierSig)
        external
        payable;

    /**
     * @notice Records the delivery attestation of `terms.oracle`; anyone may submit it.
     * @dev While Funded (or Disputed without an attestation: the attestation then becomes the
     * dispute's fallback split), up to `deadline + refundGrace` plus the oracle's suspension
     * since funding, with `windowStart <= deliveredAt <= now` and, for device arrival,
     * `now >= deliveredAt + arrivalDwellMinutes * 60 + autoAcceptAfter`. Penalty and late hours
     * are computed here (docs/formats.md); the dispute window starts at this block's time.
     *
     * WARNING: The oracle is trusted for `excursionMinutes`, `shockCount`, `windowStart`,
     * `deliveredAt` and `evidenceRoot`: a dishonest oracle can shift the deposit within the
     * penalty cap; a dispute before the window ends puts the split in the arbiter's hands.
     */
    function attest(Terms calldata terms, DeliveryAttestation calldata attestation, bytes calldata oracleSig) external;

    /**
     * @notice Opens a dispute: buyer or payee, when the terms name an arbiter; after an
     * attestation before `attestedAt + disputeWindow`, or with no attestation from `deadline` up
     * to the attestation deadline. The arbiter then has `disputeTimeout` seconds.
     */
    function openDispute(bytes32 shipmentId) external;

    /**
     * @notice Puts a device's signed reading on record while a dispute is open: buyer, payee or
     * carrier. The device must be proven in `devicesRoot`, and the reading taken inside the
     * window ([windowStart, deliveredAt] attested, else [funding, deadline]).
     * @dev `evidenceProof` is optional: {EvidenceSubmitted} says whether it led to the attested
     * evidence root. Stores nothing.
     */
    function submitEvidence(
        bytes32 shipmentId,
        ITraceAnchor.Reading calldata reading,
        bytes calldata signature,
        bytes32[] calldata deviceProof,
        bytes32[] calldata evidenceProof
    ) external;

    /**
     * @notice The arbiter's decision: `payout` of the deposit to the payee, the rest to the buyer.
     * @dev Only the terms' arbiter, while Disputed and before `disputedAt + disputeTimeout`.
     *
     * WARNING: The arbiter may choose any split of the deposit between buyer and payee.
     */
    function resolveDispute(bytes32 shipmentId, uint256 payout) external;

    /**
     * @notice Settles with `payout` to the payee and the rest to the buyer when both signed
     * `MutualRelease(shipmentId, payout)`; anyone may submit it, in any state before settlement.
     * @dev NOTE: The deposit is buyer's and payee's alone to divide: with both signatures no
     * oracle, arbiter, window or pause is needed.
     */
    function mutualRelease(bytes32 shipmentId, uint256 payout, bytes calldata buyerSig, bytes calldata payeeSig)
        external;

    /**
     * @notice Credits the split once nobody can change it any more; anyone may call. Attested:
     * after the dispute window. Disputed: after the timeout, with the attestation's split, or,
     * when nothing was attested, the whole deposit to the buyer once no attestation can come.
     */
    function settle(bytes32 shipmentId) external;

    /**
     * @notice Credits the whole deposit back to the buyer: only while Funded (nothing attested,
     * disputed or released), after `deadline + refundGrace` plus the oracle's suspension since
     * funding. Anyone may call.
     */
    function refund(bytes32 shipmentId) external;

    /// @notice Sends the caller everything it is owed in `token` (`address(0)` for ETH).
    function withdraw(address token) external;

    /// @notice The stored record of `shipmentId` (state None and zeros if unknown).
    function shipment(bytes32 shipmentId) external view returns (Shipment memory);

    /// @notice The last time {attest} accepts for `shipmentId` (refund from one second later).
    function attestationDeadline(bytes32 shipmentId) external view returns (uint256);

    /// @notice `token` (`address(0)` for ETH) credited to `account` and not yet withdrawn.
    function owed(address token, address account) external view returns (uint256);

    /// @notice All of `token` credited to accounts and not yet withdrawn.
    function totalOwed(address token) external view returns (uint256);

    /// @notice The EIP-712 struct hash of `terms` (the `termsHash` of attestations).
    function hashTerms(Terms calldata terms) external pure returns (bytes32);

    /// @notice The EIP-712 digest buyer, payee and carrier sign for `terms`.
    function termsDigest(Terms calldata terms) external view returns (bytes32);

    /// @notice The EIP-712 digest the terms' oracle signs for `attestation`.
    function attestationDigest(DeliveryAttestation calldata attestation) external view returns (bytes32);

    /// @notice The EIP-712 digest buyer and payee sign to release `shipmentId` with `payout`.
    function mutualReleaseDigest(bytes32 shipmentId, uint256 payout) external view returns (bytes32);

    /// @notice The EIP-712 digest of `reading` in the TraceAnchor's domain on this chain.
    function readingDigest(ITraceAnchor.Reading calldata reading) external view returns (bytes32);

    /// @notice The evidence leaf of a reading digest, as core/evidence.py builds it.
    function evidenceLeaf(bytes32 digest) external pure returns (bytes32);

    /// @notice The device-set leaf of `device` (DEVICES_V1), as `devicesRoot` is built.
    function deviceLeaf(address device) external pure returns (bytes32);
}
