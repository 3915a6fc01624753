// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITraceAnchor} from "./ITraceAnchor.sol";

/**
 * @title IShipmentEscrow
 * @notice Escrow for one shipment's price in ETH or an allowlisted ERC-20: funded against terms
 * signed by buyer and payee, split by an oracle's delivery attestation with SLA penalties
 * deducted, open to a dispute with signed sensor evidence that the terms' arbiter resolves, and
 * paid out by pull payments.
 * @dev The EIP-712 types and the settlement arithmetic are consensus-critical and fixed by
 * docs/formats.md (version 1).
 *
 * NOTE: Trust. The oracle (ORACLE_ROLE) decides `excursionMinutes` and `deliveredAt`, so it can
 * move up to the penalty cap between payee and buyer, but it cannot send funds anywhere else nor
 * attest after `deadline + refundGrace`. The arbiter named in the terms can, during a dispute
 * and before its timeout, split the deposit in any proportion between buyer and payee, and
 * nothing else. The admin (DEFAULT_ADMIN_ROLE) chooses the oracles and the token allowlist; it
 * cannot touch deposits or owed balances. Nobody can move a deposit to a third party.
 */
interface IShipmentEscrow {
    /**
     * @notice Life cycle of a shipment: None -> Funded -> Attested -> Settled; Attested ->
     * Disputed -> Settled (by the arbiter, or the attestation's split after the timeout);
     * Funded -> Refunded. `Disputed` comes last to keep the earlier states' numbers.
     */
    enum State {
        None,
        Funded,
        Attested,
        Settled,
        Refunded,
        Disputed
    }

    /// @notice The SLA terms both parties sign (EIP-712 `Terms`, field order as in docs/formats.md).
    /// @dev `deadline` is a unix time; `refundGrace`, `disputeWindow`, `disputeTimeout` are seconds.
    struct Terms {
        bytes32 shipmentId;
        address buyer;
        address payee;
        address token;
        uint256 amount;
        int32 minTempCentiC;
        int32 maxTempCentiC;
        uint32 graceMinutes;
        uint32 penaltyBpsPerMinute;
        uint32 penaltyCapBps;
        uint32 maxGapMinutes;
        uint64 deadline;
        uint64 refundGrace;
        uint64 disputeWindow;
        address arbiter;
        uint64 disputeTimeout;
    }

    /// @notice What an oracle signs once a shipment is delivered (EIP-712 `DeliveryAttestation`).
    struct DeliveryAttestation {
        bytes32 shipmentId;
        bytes32 termsHash;
        bytes32 evidenceRoot;
        uint32 excursionMinutes;
        uint64 deliveredAt;
    }

    /**
     * @notice What the escrow stores per shipment: the terms' hash and the fields settlement needs.
     * @dev `amount` is the deposit actually received (less than the terms' amount for a
     * fee-on-transfer token). `payout`, `refund`, `evidenceRoot` and `attestedAt` are set by
     * {attest}; {resolveDispute} may change `payout` and `refund`; `disputedAt` by {openDispute}.
     */
    struct Shipment {
        bytes32 termsHash;
        address buyer;
        uint64 deadline;
        uint32 penaltyBpsPerMinute;
        address payee;
        uint64 refundGrace;
        uint32 penaltyCapBps;
        address token;
        uint64 disputeWindow;
        address arbiter;
        uint64 disputeTimeout;
        uint256 amount;
        uint64 attestedAt;
        uint64 disputedAt;
        State state;
        bytes32 evidenceRoot;
        uint256 payout;
        uint256 refund;
    }

    /// @notice Emitted when the buyer deposits `amount` of `token` for `shipmentId` under `termsHash`.
    /// @dev `amount` is what the escrow received (for a fee-on-transfer token, less than the terms say).
    event ShipmentFunded(
        bytes32 indexed shipmentId,
        bytes32 termsHash,
        address indexed buyer,
        address indexed payee,
        address token,
        uint256 amount
    );

    /// @notice Emitted when `oracle`'s attestation fixes the split of the deposit.
    event DeliveryAttested(
        bytes32 indexed shipmentId,
        bytes32 evidenceRoot,
        uint32 excursionMinutes,
        uint64 deliveredAt,
        uint256 payout,
        uint256 refund,
        address oracle
    );

    /// @notice Emitted when `party` (buyer or payee) disputed the attestation of `shipmentId`.
    event DisputeOpened(bytes32 indexed shipmentId, address indexed party);

    /// @notice Emitted when `submitter` proved that the attested evidence holds the signed reading.
    event EvidenceSubmitted(
        bytes32 indexed shipmentId,
        address indexed submitter,
        bytes32 readingDigest,
        address device,
        uint64 seq,
        uint64 takenAtMs,
        int32 temperatureCentiC
    );

    /// @notice Emitted when the arbiter resolved the dispute with this split.
    event DisputeResolved(bytes32 indexed shipmentId, address indexed arbiter, uint256 payout, uint256 refund);

    /// @notice Emitted when `payout` and `refund` are owed (after the window, a resolution or a timeout).
    event ShipmentSettled(bytes32 indexed shipmentId, uint256 payout, uint256 refund);

    /// @notice Emitted when an unattested shipment's whole `amount` is owed back to the buyer.
    event ShipmentRefunded(bytes32 indexed shipmentId, uint256 amount);

    /// @notice Emitted when `account` withdrew `amount` of `token` it was owed.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    /// @notice Emitted when the admin added `token` to the allowlist (`allowed`) or removed it.
    event TokenAllowlistUpdated(address indexed token, bool allowed);

    /// @notice The shipment is not in a state that allows the call.
    error EscrowInvalidState(bytes32 shipmentId, State state);

    /// @notice A shipment with this id was funded before; ids are never reused.
    error EscrowShipmentExists(bytes32 shipmentId);

    /// @notice Only the buyer named in the terms may fund them.
    error EscrowNotBuyer(address caller, address buyer);

    /// @notice The token is neither ETH (`address(0)`) nor on the admin's allowlist.
    error EscrowUnsupportedToken(address token);

    /// @notice The allowlist takes only contracts (ETH is always accepted as `address(0)`).
    error EscrowInvalidToken(address token);

    /// @notice The deposit (as the terms state it, or as received) must be greater than zero.
    error EscrowZeroAmount();

    /// @notice `msg.value` differs from what the call needs (the amount for ETH, zero for a token).
    error EscrowWrongAmount(uint256 expected, uint256 received);

    /// @notice The payee is zero or the buyer itself.
    error EscrowInvalidPayee(address payee);

    /// @notice The arbiter is the buyer or the payee, or an arbiter is named without a timeout.
    error EscrowInvalidArbiter(address arbiter);

    /// @notice The temperature band is empty (`minTempCentiC > maxTempCentiC`).
    error EscrowInvalidTemperatureBand(int32 minTempCentiC, int32 maxTempCentiC);

    /// @notice The penalty cap exceeds 10000 basis points.
    error EscrowInvalidPenaltyCap(uint32 penaltyCapBps);

    /// @notice The deadline is not in the future.
    error EscrowInvalidDeadline(uint64 deadline);

    /// @notice `deadline + refundGrace + disputeWindow + disputeTimeout` does not fit a uint64.
    error EscrowInvalidDurations(uint64 deadline, uint64 refundGrace, uint64 disputeWindow, uint64 disputeTimeout);

    /// @notice A signature over the terms is not valid for `expectedSigner` (buyer or payee).
    error EscrowInvalidSignature(address expectedSigner);

    /// @notice The attestation's signer (zero if the signature is malformed) lacks ORACLE_ROLE.
    error EscrowNotOracle(address signer);

    /// @notice The attestation names terms other than those the shipment was funded with.
    error EscrowTermsMismatch(bytes32 expected, bytes32 attested);

    /// @notice The attested delivery time is after the deadline.
    error EscrowLateDelivery(uint64 deliveredAt, uint64 deadline);

    /// @notice The attested delivery time is after the current block's time.
    error EscrowDeliveryInFuture(uint64 deliveredAt, uint64 blockTimestamp);

    /// @notice Attestations are accepted only until `deadline + refundGrace`; this one came later.
    error EscrowAttestationExpired(uint64 expiredAt);

    /// @notice The dispute window is still open; {settle} succeeds from `endsAt` on.
    error EscrowDisputeWindowOpen(uint64 endsAt);

    /// @notice The dispute window closed at `endedAt`; the attestation can no longer be disputed.
    error EscrowDisputeWindowClosed(uint64 endedAt);

    /// @notice The terms name no arbiter, so the attestation cannot be disputed.
    error EscrowNoArbiter(bytes32 shipmentId);

    /// @notice Only the shipment's buyer or payee may dispute or submit evidence.
    error EscrowNotParty(address caller);

    /// @notice Only the arbiter named in the terms may resolve the dispute.
    error EscrowNotArbiter(address caller, address arbiter);

    /// @notice The dispute is still the arbiter's to resolve; {settle} succeeds from `timesOutAt` on.
    error EscrowDisputePending(uint64 timesOutAt);

    /// @notice The dispute timed out at `timedOutAt`: only the attestation's split can settle it now.
    error EscrowDisputeTimedOut(uint64 timedOutAt);

    /// @notice The arbiter's payout exceeds the deposit.
    error EscrowInvalidSplit(uint256 payout, uint256 amount);

    /// @notice The reading's signature does not recover to `device` (`signer` is what it recovers to).
    error EscrowInvalidReadingSignature(address device, address signer);

    /// @notice The proof does not lead from the reading's evidence leaf to the attested evidence root.
    error EscrowEvidenceNotAttested(bytes32 readingDigest, bytes32 evidenceRoot);

    /// @notice The attestation window is still open; {refund} succeeds from `refundableAt` on.
    error EscrowDeadlineNotPassed(uint64 refundableAt);

    /// @notice The account has no balance of the token to withdraw.
    error EscrowNothingOwed(address account, address token);

    /// @notice Sending `amount` ETH to `account` failed; its balance is kept.
    error EscrowTransferFailed(address account, uint256 amount);

    // slither-disable-start naming-convention: constants' getters keep the constants' SCREAMING_CASE names
    /// @notice The role whose signatures {attest} accepts: `keccak256("ORACLE_ROLE")`.
    function ORACLE_ROLE() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Terms(...)` as written in docs/formats.md.
    function TERMS_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `DeliveryAttestation(...)` as written in docs/formats.md.
    function ATTESTATION_TYPEHASH() external view returns (bytes32);

    /// @notice Domain tag of evidence leaf version 1: `keccak256("chaintrace.evidence.v1")`.
    function EVIDENCE_V1() external view returns (bytes32);
    // slither-disable-end naming-convention

    /// @notice The TraceAnchor whose EIP-712 domain devices sign readings in.
    function traceAnchor() external view returns (ITraceAnchor);

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
     * @notice Deposits `terms.amount` of `terms.token` (ETH as `msg.value`, or an ERC-20 the buyer
     * approved) for `terms.shipmentId`; buyer and payee must both have signed {termsDigest}
     * (ERC-1271 contract wallets supported).
     * @dev Only `terms.buyer` may call. The escrow stores the terms' hash; later calls check against
     * it. For a token the deposit is the escrow's balance increase, measured around the transfer:
     * a fee-on-transfer token deposits less than `terms.amount`, and the split applies to that.
     */
    function fund(Terms calldata terms, bytes calldata buyerSig, bytes calldata payeeSig) external payable;

    /**
     * @notice Records a delivery attestation signed by an ORACLE_ROLE holder; anyone may submit it.
     * @dev Accepted while the shipment is Funded, `deliveredAt <= deadline`, `deliveredAt` is not in
     * the future and `block.timestamp <= deadline + refundGrace`. Fixes payout and refund per
     * docs/formats.md and opens the dispute window at this block's time.
     *
     * WARNING: The oracle is trusted for `excursionMinutes`, `deliveredAt` and `evidenceRoot`: a
     * dishonest oracle key can shift the deposit within the penalty cap, or release it before
     * delivery; a dispute before the window ends puts the split in the arbiter's hands.
     */
    function attest(DeliveryAttestation calldata attestation, bytes calldata oracleSig) external;

    /**
     * @notice Disputes the attestation: buyer or payee, before `attestedAt + disputeWindow`, when
     * the terms name an arbiter. The arbiter then has `disputeTimeout` seconds to resolve.
     */
    function openDispute(bytes32 shipmentId) external;

    /**
     * @notice Puts a device's signed reading on record for a dispute, proven to be part of the
     * attested evidence: buyer or payee, while the dispute is open and before its timeout.
     * @dev Checks that `signature` recovers to `reading.device` over the TraceAnchor's
     * {ITraceAnchor-readingDigest} and that `proof` leads from the evidence leaf
     * `keccak256(bytes.concat(keccak256(abi.encode(EVIDENCE_V1, readingDigest))))` to the attested
     * `evidenceRoot`; stores nothing, emits {EvidenceSubmitted} for the arbiter to read.
     */
    function submitEvidence(
        bytes32 shipmentId,
        ITraceAnchor.Reading calldata reading,
        bytes calldata signature,
        bytes32[] calldata proof
    ) external;

    /**
     * @notice The arbiter's decision: `payout` of the deposit to the payee, the rest to the buyer.
     * @dev Only the terms' arbiter, while Disputed and before `disputedAt + disputeTimeout`.
     *
     * WARNING: The arbiter may choose any split of the deposit between buyer and payee.
     */
    function resolveDispute(bytes32 shipmentId, uint256 payout) external;

    /**
     * @notice Credits the attestation's payout to the payee and refund to the buyer: once the dispute
     * window has passed without a dispute, or once a dispute has timed out unresolved. Anyone may call.
     */
    function settle(bytes32 shipmentId) external;

    /**
     * @notice Credits the whole deposit back to the buyer when no attestation came in time
     * (`block.timestamp > deadline + refundGrace`). Anyone may call.
     */
    function refund(bytes32 shipmentId) external;

    /// @notice Sends the caller everything it is owed in `token` (`address(0)` for ETH).
    function withdraw(address token) external;

    /// @notice The stored record of `shipmentId` (state None and zeros if unknown).
    function shipment(bytes32 shipmentId) external view returns (Shipment memory);

    /// @notice `token` (`address(0)` for ETH) credited to `account` and not yet withdrawn.
    function owed(address token, address account) external view returns (uint256);

    /// @notice All of `token` credited to accounts and not yet withdrawn.
    function totalOwed(address token) external view returns (uint256);

    /// @notice The EIP-712 struct hash of `terms` (the `termsHash` of attestations).
    function hashTerms(Terms calldata terms) external pure returns (bytes32);

    /// @notice The EIP-712 digest buyer and payee sign for `terms`, bound to this contract's domain.
    function termsDigest(Terms calldata terms) external view returns (bytes32);

    /// @notice The EIP-712 digest an oracle signs for `attestation`.
    function attestationDigest(DeliveryAttestation calldata attestation) external view returns (bytes32);

    /// @notice The evidence leaf of a reading digest, as core/evidence.py builds it.
    function evidenceLeaf(bytes32 readingDigest) external pure returns (bytes32);
}
