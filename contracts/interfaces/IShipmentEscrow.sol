// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title IShipmentEscrow
 * @notice Escrow for one shipment's price: funded against terms signed by buyer and payee, settled
 * from an oracle's delivery attestation with SLA penalties deducted, paid out by pull payments.
 * @dev The EIP-712 types and the settlement arithmetic are consensus-critical and fixed by
 * docs/formats.md (version 1). This first version holds ETH only.
 */
interface IShipmentEscrow {
    /// @notice Life cycle of a shipment: None -> Funded -> Attested -> Settled, or Funded -> Refunded.
    enum State {
        None,
        Funded,
        Attested,
        Settled,
        Refunded
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

    /// @notice What the escrow stores per shipment: the terms' hash and the fields settlement needs.
    /// @dev Ordered to pack into seven slots; `payout` and `refund` are set by {attest}.
    struct Shipment {
        bytes32 termsHash;
        address buyer;
        uint64 deadline;
        uint32 penaltyBpsPerMinute;
        address payee;
        uint64 refundGrace;
        uint32 penaltyCapBps;
        uint256 amount;
        uint64 disputeWindow;
        uint64 attestedAt;
        State state;
        uint256 payout;
        uint256 refund;
    }

    /// @notice Emitted when the buyer deposits `amount` for `shipmentId` under the terms `termsHash`.
    event ShipmentFunded(
        bytes32 indexed shipmentId, bytes32 termsHash, address indexed buyer, address indexed payee, uint256 amount
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

    /// @notice Emitted when the dispute window has passed and `payout` and `refund` are owed.
    event ShipmentSettled(bytes32 indexed shipmentId, uint256 payout, uint256 refund);

    /// @notice Emitted when an unattested shipment's whole `amount` is owed back to the buyer.
    event ShipmentRefunded(bytes32 indexed shipmentId, uint256 amount);

    /// @notice Emitted when `account` withdraws `amount` it was owed.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice The shipment is not in a state that allows the call.
    error EscrowInvalidState(bytes32 shipmentId, State state);

    /// @notice A shipment with this id was funded before; ids are never reused.
    error EscrowShipmentExists(bytes32 shipmentId);

    /// @notice Only the buyer named in the terms may fund them.
    error EscrowNotBuyer(address caller, address buyer);

    /// @notice Only ETH (`token == address(0)`) is supported by this version.
    error EscrowUnsupportedToken(address token);

    /// @notice The deposit must be greater than zero.
    error EscrowZeroAmount();

    /// @notice `msg.value` differs from the terms' amount.
    error EscrowWrongAmount(uint256 expected, uint256 received);

    /// @notice The payee is zero or the buyer itself.
    error EscrowInvalidPayee(address payee);

    /// @notice The temperature band is empty (`minTempCentiC > maxTempCentiC`).
    error EscrowInvalidTemperatureBand(int32 minTempCentiC, int32 maxTempCentiC);

    /// @notice The penalty cap exceeds 10000 basis points.
    error EscrowInvalidPenaltyCap(uint32 penaltyCapBps);

    /// @notice The deadline is not in the future.
    error EscrowInvalidDeadline(uint64 deadline);

    /// @notice `deadline + refundGrace + disputeWindow` does not fit a uint64 timestamp.
    error EscrowInvalidDurations(uint64 deadline, uint64 refundGrace, uint64 disputeWindow);

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

    /// @notice The attestation window is still open; {refund} succeeds from `refundableAt` on.
    error EscrowDeadlineNotPassed(uint64 refundableAt);

    /// @notice The account has no balance to withdraw.
    error EscrowNothingOwed(address account);

    /// @notice Sending `amount` to `account` failed; its balance is kept.
    error EscrowTransferFailed(address account, uint256 amount);

    /// @notice The role whose signatures {attest} accepts: `keccak256("ORACLE_ROLE")`.
    function ORACLE_ROLE() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Terms(...)` as written in docs/formats.md.
    function TERMS_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `DeliveryAttestation(...)` as written in docs/formats.md.
    function ATTESTATION_TYPEHASH() external view returns (bytes32);

    /**
     * @notice Deposits `terms.amount` ETH for `terms.shipmentId`; buyer and payee must both have
     * signed {termsDigest} (ERC-1271 contract wallets supported).
     * @dev Only `terms.buyer` may call. The escrow stores the terms' hash; later calls check against it.
     *
     * NOTE: `arbiter` and `disputeTimeout` are bound into the terms' hash but not used by this version.
     */
    function fund(Terms calldata terms, bytes calldata buyerSig, bytes calldata payeeSig) external payable;

    /**
     * @notice Records a delivery attestation signed by an ORACLE_ROLE holder; anyone may submit it.
     * @dev Accepted while the shipment is Funded, `deliveredAt <= deadline`, `deliveredAt` is not in
     * the future and `block.timestamp <= deadline + refundGrace`. Fixes payout and refund per
     * docs/formats.md and opens the dispute window at this block's time.
     *
     * WARNING: The oracle is trusted for `excursionMinutes` and `deliveredAt`: a dishonest oracle
     * key can shift the whole deposit within the penalty cap, or release it before delivery.
     */
    function attest(DeliveryAttestation calldata attestation, bytes calldata oracleSig) external;

    /**
     * @notice Once the dispute window has passed (`block.timestamp >= attestedAt + disputeWindow`),
     * credits payout to the payee and refund to the buyer. Anyone may call.
     */
    function settle(bytes32 shipmentId) external;

    /**
     * @notice Credits the whole deposit back to the buyer when no attestation came in time
     * (`block.timestamp > deadline + refundGrace`). Anyone may call.
     */
    function refund(bytes32 shipmentId) external;

    /// @notice Sends the caller everything it is owed.
    function withdraw() external;

    /// @notice The stored record of `shipmentId` (state None and zeros if unknown).
    function shipment(bytes32 shipmentId) external view returns (Shipment memory);

    /// @notice ETH credited to `account` and not yet withdrawn.
    function owed(address account) external view returns (uint256);

    /// @notice The EIP-712 struct hash of `terms` (the `termsHash` of attestations).
    function hashTerms(Terms calldata terms) external pure returns (bytes32);

    /// @notice The EIP-712 digest buyer and payee sign for `terms`, bound to this contract's domain.
    function termsDigest(Terms calldata terms) external view returns (bytes32);

    /// @notice The EIP-712 digest an oracle signs for `attestation`.
    function attestationDigest(DeliveryAttestation calldata attestation) external view returns (bytes32);
}
