// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IShipmentEscrowV2} from "./interfaces/IShipmentEscrowV2.sol";
import {ITraceAnchor} from "./interfaces/ITraceAnchor.sol";
import {SettlementV2} from "./libraries/SettlementV2.sol";

/**
 * @title ShipmentEscrowV2
 * @notice Escrow v2 (EIP-712 domain "chaintrace ShipmentEscrow" version "2"): holds a shipment's
 * price from funding against terms signed by buyer, payee and carrier until the terms' oracle
 * attests delivery and the dispute window (or a dispute) is over, a mutual release settles it,
 * or no attestation came; value leaves only through {withdraw}.
 * @dev Deployed beside ShipmentEscrow v1, which stays as it is.
 *
 * NOTE: Decisions where DESIGN.md leaves room, each so that no party can move another's money:
 * - An oracle is suspended while paused by a guardian or without ORACLE_ROLE. The suspended time
 *   since funding extends the attestation deadline and the refund time of the oracle's shipments,
 *   so pausing or revoking an oracle only delays (it never turns into a refund for the buyer).
 * - A dispute opened without an attestation (from `deadline`) does not stop the oracle: an
 *   attestation that comes in time becomes the dispute's fallback. A timed-out dispute settles
 *   with the attestation's split, or, with none, refunds the buyer in full, but not before the
 *   attestation deadline has passed (the same time {refund} would allow).
 * - {mutualRelease} settles any state before settlement: the deposit is buyer's and payee's.
 * - Evidence may be submitted by buyer, payee or carrier (the carrier operates the devices).
 *
 * WARNING: The terms' oracle decides excursion minutes, shocks and delivery time (within the
 * on-chain checks), so it moves up to the penalty cap; the terms' arbiter decides a disputed
 * split. The admin can delay settlement (revoking an oracle freezes its shipments until it is
 * granted again, or buyer and payee release or dispute), but cannot choose an oracle or a split.
 */
contract ShipmentEscrowV2 is IShipmentEscrowV2, AccessControlDefaultAdminRules, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @dev An oracle's suspension clock: `since` is when its current suspension began (0 while
    /// active), `total` the seconds of its ended suspensions.
    struct OracleClock {
        uint64 since;
        uint64 total;
        bool paused;
    }

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override ORACLE_ROLE = keccak256("ORACLE_ROLE");

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override TERMS_TYPEHASH = keccak256(
        "Terms(bytes32 shipmentId,address buyer,address payee,address carrier,address token,uint256 amount,"
        "int32 minTempCentiC,int32 maxTempCentiC,uint32 minHumidityCentiPct,uint32 maxHumidityCentiPct,"
        "uint32 maxShockMilliG,uint32 graceMinutes,uint32 penaltyBpsPerMinute,uint32 penaltyBpsPerShock,"
        "uint32 penaltyBpsPerLateHour,uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 fundBy,uint64 deadline,"
        "uint64 refundGrace,uint64 disputeWindow,address arbiter,uint64 disputeTimeout,bytes32 devicesRoot,"
        "int32 destLatE7,int32 destLonE7,uint32 destRadiusM,uint32 arrivalDwellMinutes,uint64 autoAcceptAfter,"
        "address oracle)"
    );

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override ATTESTATION_TYPEHASH = keccak256(
        "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,uint32 excursionMinutes,"
        "uint32 shockCount,uint64 windowStart,uint64 deliveredAt,uint8 deliveryBasis)"
    );

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override MUTUAL_RELEASE_TYPEHASH =
        keccak256("MutualRelease(bytes32 shipmentId,uint256 payout)");

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override EVIDENCE_V1 = keccak256("chaintrace.evidence.v1");

    /// @inheritdoc IShipmentEscrowV2
    bytes32 public constant override DEVICES_V1 = keccak256("chaintrace.devices.v1");

    /// @dev TraceAnchor's `Reading` type and EIP-712 domain (name, version), as devices sign them.
    bytes32 private constant _READING_TYPEHASH = keccak256(
        "Reading(address device,uint64 seq,uint64 takenAtMs,int32 temperatureCentiC,"
        "uint32 humidityCentiPct,uint32 shockMilliG,int32 latE7,int32 lonE7)"
    );
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _ANCHOR_NAME_HASH = keccak256("chaintrace TraceAnchor");
    bytes32 private constant _ANCHOR_VERSION_HASH = keccak256("1");

    uint256 private constant _MIN_RADIUS_M = 100;
    uint256 private constant _MAX_RADIUS_M = 50_000;
    uint256 private constant _MIN_AUTO_ACCEPT = 3600;
    uint256 private constant _MAX_HUMIDITY = 10_000;

    address private immutable _traceAnchor;

    mapping(bytes32 shipmentId => Shipment) private _shipments;
    mapping(address token => mapping(address account => uint256)) private _owed;
    mapping(address token => uint256) private _totalOwed;
    mapping(address token => bool) private _allowedTokens;
    mapping(address oracle => OracleClock) private _clocks;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants ORACLE_ROLE and GUARDIAN_ROLE, keeps the allowlist).
    /// @param adminDelay Seconds a DEFAULT_ADMIN_ROLE transfer waits after being accepted (two-step).
    /// @param traceAnchor_ The TraceAnchor whose domain devices sign readings in (for evidence).
    constructor(address admin, uint48 adminDelay, address traceAnchor_)
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("chaintrace ShipmentEscrow", "2")
    {
        if (traceAnchor_ == address(0)) revert EscrowV2InvalidTraceAnchor();
        _traceAnchor = traceAnchor_;
    }

    // ---------------------------------------------------------------- admin and guardian

    /// @inheritdoc IShipmentEscrowV2
    function setTokenAllowed(address token, bool allowed) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token.code.length == 0) revert EscrowV2InvalidToken(token);
        _allowedTokens[token] = allowed;
        emit TokenAllowlistUpdated(token, allowed);
    }

    /// @inheritdoc IShipmentEscrowV2
    function setOraclePaused(address oracle, bool paused) external override onlyRole(GUARDIAN_ROLE) {
        OracleClock storage c = _clocks[oracle];
        if (c.paused == paused) revert EscrowV2PauseUnchanged(oracle, paused);
        c.paused = paused;
        _syncClock(oracle);
        emit OraclePauseSet(oracle, msg.sender, paused);
    }

    // ---------------------------------------------------------------- life cycle

    /// @inheritdoc IShipmentEscrowV2
    function fund(Terms calldata terms, bytes calldata buyerSig, bytes calldata payeeSig, bytes calldata carrierSig)
        external
        payable
        override
        nonReentrant
    {
        if (msg.sender != terms.buyer) revert EscrowV2NotBuyer(msg.sender, terms.buyer);
        address token = terms.token;
        if (token != address(0) && !_allowedTokens[token]) revert EscrowV2UnsupportedToken(token);
        if (terms.amount == 0) revert EscrowV2ZeroAmount();
        uint256 expectedValue = token == address(0) ? terms.amount : 0;
        if (msg.value != expectedValue) revert EscrowV2WrongAmount(expectedValue, msg.value);
        _checkTerms(terms);
        bytes32 termsHash = hashTerms(terms);
        _checkTermsSignatures(terms, _hashTypedDataV4(termsHash), buyerSig, payeeSig, carrierSig);

        _store(terms, termsHash);
        uint256 deposit = terms.amount;
        if (token != address(0)) {
            // The only external call of fund; the shipment is recorded (Funded) before it and
            // nonReentrant covers every function that moves value.
            IERC20 erc20 = IERC20(token);
            uint256 before = erc20.balanceOf(address(this));
            erc20.safeTransferFrom(msg.sender, address(this), terms.amount); // msg.sender is terms.buyer
            // Fee-on-transfer tokens deliver less than asked: the deposit is what arrived.
            deposit = erc20.balanceOf(address(this)) - before;
            // slither-disable-next-line incorrect-equality: a token that delivered nothing must not fund a shipment
            if (deposit == 0) revert EscrowV2ZeroAmount();
            if (deposit != terms.amount) _shipments[terms.shipmentId].amount = deposit;
        }
        emit ShipmentFunded(terms.shipmentId, termsHash, terms.buyer, terms.payee, token, deposit);
    }

    /// @inheritdoc IShipmentEscrowV2
    function attest(Terms calldata terms, DeliveryAttestation calldata attestation, bytes calldata oracleSig)
        external
        override
    {
        bytes32 shipmentId = terms.shipmentId;
        Shipment storage s = _shipments[shipmentId];
        State state = s.state;
        if (state != State.Funded && (state != State.Disputed || s.attestedAt != 0)) {
            revert EscrowV2InvalidState(shipmentId, state);
        }
        if (attestation.shipmentId != shipmentId) revert EscrowV2ShipmentMismatch(shipmentId, attestation.shipmentId);
        bytes32 termsHash = hashTerms(terms);
        if (termsHash != s.termsHash) revert EscrowV2TermsMismatch(s.termsHash, termsHash);
        if (attestation.termsHash != termsHash) revert EscrowV2TermsMismatch(termsHash, attestation.termsHash);
        address oracle = terms.oracle;
        if (!_isOracleActive(oracle)) revert EscrowV2OracleInactive(oracle);
        uint256 expiredAt = _attestationDeadline(s);
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp > expiredAt) revert EscrowV2AttestationExpired(expiredAt);
        _checkDelivery(terms, attestation);
        if (!SignatureChecker.isValidSignatureNow(oracle, attestationDigest(attestation), oracleSig)) {
            revert EscrowV2InvalidSignature(oracle);
        }

        uint256 bps = _penaltyBps(terms, attestation);
        (uint256 payout, uint256 refundAmount) = SettlementV2.split(s.amount, bps);
        s.payout = payout;
        s.refund = refundAmount;
        s.evidenceRoot = attestation.evidenceRoot;
        s.windowStart = attestation.windowStart;
        s.deliveredAt = attestation.deliveredAt;
        s.attestedAt = uint64(block.timestamp);
        if (state == State.Funded) s.state = State.Attested;
        emit DeliveryAttested(
            shipmentId,
            attestation.evidenceRoot,
            attestation.deliveredAt,
            attestation.deliveryBasis,
            bps,
            payout,
            refundAmount
        );
    }

    /// @inheritdoc IShipmentEscrowV2
    function openDispute(bytes32 shipmentId) external override {
        Shipment storage s = _shipments[shipmentId];
        State state = s.state;
        if (state == State.Attested) {
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp >= uint256(s.attestedAt) + s.disputeWindow) {
                revert EscrowV2DisputeNotOpenable(shipmentId);
            }
        } else if (state == State.Funded) {
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp < s.deadline || block.timestamp > _attestationDeadline(s)) {
                revert EscrowV2DisputeNotOpenable(shipmentId);
            }
        } else {
            revert EscrowV2InvalidState(shipmentId, state);
        }
        if (msg.sender != s.buyer && msg.sender != s.payee) revert EscrowV2NotParty(msg.sender);
        if (s.arbiter == address(0)) revert EscrowV2NoArbiter(shipmentId);

        s.disputedAt = uint64(block.timestamp);
        s.state = State.Disputed;
        emit DisputeOpened(shipmentId, msg.sender, state == State.Attested);
    }

    /// @inheritdoc IShipmentEscrowV2
    function submitEvidence(
        bytes32 shipmentId,
        ITraceAnchor.Reading calldata reading,
        bytes calldata signature,
        bytes32[] calldata deviceProof,
        bytes32[] calldata evidenceProof
    ) external override {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Disputed) revert EscrowV2InvalidState(shipmentId, s.state);
        if (msg.sender != s.buyer && msg.sender != s.payee && msg.sender != s.carrier) {
            revert EscrowV2NotParty(msg.sender);
        }
        uint256 timesOutAt = uint256(s.disputedAt) + s.disputeTimeout;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp >= timesOutAt) revert EscrowV2DisputeTimedOut(timesOutAt);

        bytes32 digest = _checkReading(s, reading, signature, deviceProof);
        bytes32 root = s.evidenceRoot;
        bool inEvidence = root != bytes32(0) && MerkleProof.verifyCalldata(evidenceProof, root, evidenceLeaf(digest));
        emit EvidenceSubmitted(shipmentId, msg.sender, digest, reading, inEvidence);
    }

    /// @inheritdoc IShipmentEscrowV2
    function resolveDispute(bytes32 shipmentId, uint256 payout) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Disputed) revert EscrowV2InvalidState(shipmentId, s.state);
        address arbiter = s.arbiter;
        if (msg.sender != arbiter) revert EscrowV2NotArbiter(msg.sender, arbiter);
        uint256 timesOutAt = uint256(s.disputedAt) + s.disputeTimeout;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp >= timesOutAt) revert EscrowV2DisputeTimedOut(timesOutAt);
        uint256 amount = s.amount;
        if (payout > amount) revert EscrowV2InvalidSplit(payout, amount);

        uint256 refundAmount = amount - payout;
        s.payout = payout;
        s.refund = refundAmount;
        emit DisputeResolved(shipmentId, arbiter, payout, refundAmount);
        _credit(shipmentId, s, payout, refundAmount);
    }

    /// @inheritdoc IShipmentEscrowV2
    function mutualRelease(bytes32 shipmentId, uint256 payout, bytes calldata buyerSig, bytes calldata payeeSig)
        external
        override
        nonReentrant
    {
        Shipment storage s = _shipments[shipmentId];
        State state = s.state;
        if (state != State.Funded && state != State.Attested && state != State.Disputed) {
            revert EscrowV2InvalidState(shipmentId, state);
        }
        uint256 amount = s.amount;
        if (payout > amount) revert EscrowV2InvalidSplit(payout, amount);
        bytes32 digest = mutualReleaseDigest(shipmentId, payout);
        if (!SignatureChecker.isValidSignatureNow(s.buyer, digest, buyerSig)) revert EscrowV2InvalidSignature(s.buyer);
        if (!SignatureChecker.isValidSignatureNow(s.payee, digest, payeeSig)) revert EscrowV2InvalidSignature(s.payee);

        uint256 refundAmount = amount - payout;
        s.payout = payout;
        s.refund = refundAmount;
        emit MutuallyReleased(shipmentId, payout, refundAmount);
        _credit(shipmentId, s, payout, refundAmount);
    }

    /// @inheritdoc IShipmentEscrowV2
    function settle(bytes32 shipmentId) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        State state = s.state;
        if (state == State.Attested) {
            uint256 endsAt = uint256(s.attestedAt) + s.disputeWindow;
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp < endsAt) revert EscrowV2DisputeWindowOpen(endsAt);
        } else if (state == State.Disputed) {
            uint256 settleableAt = uint256(s.disputedAt) + s.disputeTimeout;
            if (s.attestedAt == 0) {
                // Nothing attested: the buyer's full refund, but only once no attestation can come.
                settleableAt = Math.max(settleableAt, _attestationDeadline(s) + 1);
                s.payout = 0;
                s.refund = s.amount;
            }
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp < settleableAt) revert EscrowV2DisputePending(settleableAt);
        } else {
            revert EscrowV2InvalidState(shipmentId, state);
        }
        _credit(shipmentId, s, s.payout, s.refund);
    }

    /// @inheritdoc IShipmentEscrowV2
    function refund(bytes32 shipmentId) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Funded) revert EscrowV2InvalidState(shipmentId, s.state);
        uint256 refundableAt = _attestationDeadline(s) + 1;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp < refundableAt) revert EscrowV2NotRefundable(refundableAt);

        uint256 amount = s.amount;
        s.state = State.Refunded;
        // Recorded so that payout + refund == amount holds for every final state.
        s.refund = amount;
        _owed[s.token][s.buyer] += amount;
        _totalOwed[s.token] += amount;
        emit ShipmentRefunded(shipmentId, amount);
    }

    /// @inheritdoc IShipmentEscrowV2
    function withdraw(address token) external override nonReentrant {
        uint256 amount = _owed[token][msg.sender];
        if (amount == 0) revert EscrowV2NothingOwed(msg.sender, token);
        _owed[token][msg.sender] = 0;
        _totalOwed[token] -= amount;
        emit Withdrawn(msg.sender, token, amount);
        // State is final before the transfer, and nonReentrant blocks re-entry into every value path.
        if (token == address(0)) {
            // slither-disable-next-line low-level-calls: ETH needs a call; failure is handled (EscrowV2TransferFailed)
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert EscrowV2TransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IShipmentEscrowV2
    function traceAnchor() external view override returns (address) {
        return _traceAnchor;
    }

    /// @inheritdoc IShipmentEscrowV2
    function isTokenAllowed(address token) external view override returns (bool) {
        return token == address(0) || _allowedTokens[token];
    }

    /// @inheritdoc IShipmentEscrowV2
    function isOraclePaused(address oracle) external view override returns (bool) {
        return _clocks[oracle].paused;
    }

    /// @inheritdoc IShipmentEscrowV2
    function oracleSuspendedSeconds(address oracle) public view override returns (uint256) {
        OracleClock storage c = _clocks[oracle];
        uint64 since = c.since;
        return uint256(c.total) + (since == 0 ? 0 : block.timestamp - since);
    }

    /// @inheritdoc IShipmentEscrowV2
    function shipment(bytes32 shipmentId) external view override returns (Shipment memory) {
        return _shipments[shipmentId];
    }

    /// @inheritdoc IShipmentEscrowV2
    function attestationDeadline(bytes32 shipmentId) external view override returns (uint256) {
        return _attestationDeadline(_shipments[shipmentId]);
    }

    /// @inheritdoc IShipmentEscrowV2
    function owed(address token, address account) external view override returns (uint256) {
        return _owed[token][account];
    }

    /// @inheritdoc IShipmentEscrowV2
    function totalOwed(address token) external view override returns (uint256) {
        return _totalOwed[token];
    }

    /// @inheritdoc IShipmentEscrowV2
    function hashTerms(Terms calldata terms) public pure override returns (bytes32) {
        // Every Terms field is a static type, so abi.encode(terms) is exactly EIP-712's encodeData
        // (one 32-byte word per field, in order, int32 sign-extended); 30 values would not fit the stack.
        return keccak256(bytes.concat(TERMS_TYPEHASH, abi.encode(terms)));
    }

    /// @inheritdoc IShipmentEscrowV2
    function termsDigest(Terms calldata terms) external view override returns (bytes32) {
        return _hashTypedDataV4(hashTerms(terms));
    }

    /// @inheritdoc IShipmentEscrowV2
    function attestationDigest(DeliveryAttestation calldata attestation) public view override returns (bytes32) {
        // All fields static, as for hashTerms.
        return _hashTypedDataV4(keccak256(bytes.concat(ATTESTATION_TYPEHASH, abi.encode(attestation))));
    }

    /// @inheritdoc IShipmentEscrowV2
    function mutualReleaseDigest(bytes32 shipmentId, uint256 payout) public view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(MUTUAL_RELEASE_TYPEHASH, shipmentId, payout)));
    }

    /// @inheritdoc IShipmentEscrowV2
    function readingDigest(ITraceAnchor.Reading calldata reading) public view override returns (bytes32) {
        // Built here rather than asked of the TraceAnchor: no external call, and the domain is the
        // one the devices signed in (name, version, this chain, the anchor's address).
        bytes32 domainSeparator = keccak256(
            abi.encode(_DOMAIN_TYPEHASH, _ANCHOR_NAME_HASH, _ANCHOR_VERSION_HASH, block.chainid, _traceAnchor)
        );
        return MessageHashUtils.toTypedDataHash(
            domainSeparator, keccak256(bytes.concat(_READING_TYPEHASH, abi.encode(reading)))
        );
    }

    /// @inheritdoc IShipmentEscrowV2
    function evidenceLeaf(bytes32 digest) public pure override returns (bytes32) {
        // Double hashing as @openzeppelin/merkle-tree's StandardMerkleTree does (second preimage).
        return keccak256(bytes.concat(keccak256(abi.encode(EVIDENCE_V1, digest))));
    }

    /// @inheritdoc IShipmentEscrowV2
    function deviceLeaf(address device) public pure override returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(DEVICES_V1, device))));
    }

    // ---------------------------------------------------------------- internals

    /// @dev Keeps the oracles' suspension clocks in step with ORACLE_ROLE.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == ORACLE_ROLE) _syncClock(account);
    }

    /// @dev Keeps the oracles' suspension clocks in step with ORACLE_ROLE.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == ORACLE_ROLE) _syncClock(account);
    }

    /// @dev Starts or ends `oracle`'s suspension after a change of its pause flag or role.
    function _syncClock(address oracle) private {
        OracleClock storage c = _clocks[oracle];
        bool suspended = c.paused || !hasRole(ORACLE_ROLE, oracle);
        if (suspended && c.since == 0) {
            c.since = uint64(block.timestamp);
        } else if (!suspended && c.since != 0) {
            c.total += uint64(block.timestamp) - c.since;
            c.since = 0;
        }
    }

    function _isOracleActive(address oracle) private view returns (bool) {
        return hasRole(ORACLE_ROLE, oracle) && !_clocks[oracle].paused;
    }

    /// @dev deadline + refundGrace, plus the time the shipment's oracle was suspended since funding.
    function _attestationDeadline(Shipment storage s) private view returns (uint256) {
        return uint256(s.deadline) + s.refundGrace + oracleSuspendedSeconds(s.oracle) - s.oracleSuspendedAtFund;
    }

    /// @dev The bounds of docs/escrow.md (v2) that no signature can make meaningful.
    function _checkTerms(Terms calldata terms) private view {
        if (_shipments[terms.shipmentId].state != State.None) revert EscrowV2ShipmentExists(terms.shipmentId);
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp > terms.fundBy) revert EscrowV2FundingClosed(terms.fundBy);
        if (!_isOracleActive(terms.oracle)) revert EscrowV2OracleInactive(terms.oracle);
        if (
            terms.buyer == address(0) || terms.payee == address(0) || terms.carrier == address(0)
                || terms.payee == terms.buyer
        ) revert EscrowV2InvalidParties(terms.buyer, terms.payee, terms.carrier);
        _checkArbiter(terms);
        if (terms.minTempCentiC > terms.maxTempCentiC) {
            revert EscrowV2InvalidTemperatureBand(terms.minTempCentiC, terms.maxTempCentiC);
        }
        uint32 minHumidity = terms.minHumidityCentiPct;
        uint32 maxHumidity = terms.maxHumidityCentiPct;
        if ((minHumidity != 0 || maxHumidity != 0) && (minHumidity > maxHumidity || maxHumidity > _MAX_HUMIDITY)) {
            revert EscrowV2InvalidHumidityBand(minHumidity, maxHumidity);
        }
        if (terms.penaltyCapBps > SettlementV2.BPS) revert EscrowV2InvalidPenaltyCap(terms.penaltyCapBps);
        if (terms.destRadiusM < _MIN_RADIUS_M || terms.destRadiusM > _MAX_RADIUS_M) {
            revert EscrowV2InvalidRadius(terms.destRadiusM);
        }
        if (terms.devicesRoot == bytes32(0)) revert EscrowV2NoDevices();
        _checkTimes(terms);
    }

    /// @dev An arbiter is no party and has a timeout; device arrival needs one.
    function _checkArbiter(Terms calldata terms) private pure {
        address arbiter = terms.arbiter;
        if (arbiter == address(0)) {
            if (terms.autoAcceptAfter != 0) revert EscrowV2InvalidArbiter(arbiter);
        } else if (
            arbiter == terms.buyer || arbiter == terms.payee || arbiter == terms.carrier || terms.disputeTimeout == 0
        ) {
            revert EscrowV2InvalidArbiter(arbiter);
        }
    }

    /// @dev Deadline, auto-accept, refund grace, and no derived time beyond uint64.
    function _checkTimes(Terms calldata terms) private view {
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (terms.deadline <= block.timestamp) revert EscrowV2InvalidDeadline(terms.deadline);
        uint64 autoAcceptAfter = terms.autoAcceptAfter;
        if (autoAcceptAfter != 0 && autoAcceptAfter < _MIN_AUTO_ACCEPT) {
            revert EscrowV2InvalidAutoAccept(autoAcceptAfter);
        }
        uint256 minGrace = uint256(terms.arrivalDwellMinutes) * 60 + autoAcceptAfter + 3600;
        if (terms.refundGrace < minGrace) revert EscrowV2InvalidRefundGrace(terms.refundGrace, minGrace);
        if (
            uint256(terms.deadline) + terms.refundGrace + terms.disputeWindow + terms.disputeTimeout >= type(uint64).max
        ) {
            revert EscrowV2InvalidDurations(terms.deadline, terms.refundGrace, terms.disputeWindow, terms.disputeTimeout);
        }
    }

    /// @dev Buyer, payee and carrier signatures (one serves when carrier == payee); ERC-1271 wallets
    /// are only staticcalled.
    function _checkTermsSignatures(
        Terms calldata terms,
        bytes32 digest,
        bytes calldata buyerSig,
        bytes calldata payeeSig,
        bytes calldata carrierSig
    ) private view {
        if (!SignatureChecker.isValidSignatureNow(terms.buyer, digest, buyerSig)) {
            revert EscrowV2InvalidSignature(terms.buyer);
        }
        if (!SignatureChecker.isValidSignatureNow(terms.payee, digest, payeeSig)) {
            revert EscrowV2InvalidSignature(terms.payee);
        }
        if (terms.carrier != terms.payee && !SignatureChecker.isValidSignatureNow(terms.carrier, digest, carrierSig)) {
            revert EscrowV2InvalidSignature(terms.carrier);
        }
    }

    /// @dev Delivery time and basis: nothing in the future, the window before delivery, and device
    /// arrival only once the terms' auto-accept time after arrival and dwell has passed.
    function _checkDelivery(Terms calldata terms, DeliveryAttestation calldata attestation) private view {
        uint64 deliveredAt = attestation.deliveredAt;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (deliveredAt > block.timestamp || attestation.windowStart > deliveredAt) {
            revert EscrowV2InvalidDeliveryTime(attestation.windowStart, deliveredAt);
        }
        uint8 basis = attestation.deliveryBasis;
        if (basis > 1) revert EscrowV2InvalidDeliveryBasis(basis);
        if (basis == 1) {
            if (terms.autoAcceptAfter == 0) revert EscrowV2ArrivalNotAcceptable(type(uint256).max);
            uint256 acceptableAt = uint256(deliveredAt) + uint256(terms.arrivalDwellMinutes) * 60 + terms.autoAcceptAfter;
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp < acceptableAt) revert EscrowV2ArrivalNotAcceptable(acceptableAt);
        }
    }

    /// @dev The attestation's capped penalty in basis points, late hours counted here.
    function _penaltyBps(Terms calldata terms, DeliveryAttestation calldata attestation)
        private
        pure
        returns (uint256)
    {
        return SettlementV2.penaltyBps(
            attestation.excursionMinutes,
            attestation.shockCount,
            SettlementV2.lateHours(attestation.deliveredAt, terms.deadline),
            terms.penaltyBpsPerMinute,
            terms.penaltyBpsPerShock,
            terms.penaltyBpsPerLateHour,
            terms.penaltyCapBps
        );
    }

    /// @dev The reading's digest, once it is signed by its device, the device is in the
    /// shipment's set and the reading lies in the shipment's window.
    function _checkReading(
        Shipment storage s,
        ITraceAnchor.Reading calldata reading,
        bytes calldata signature,
        bytes32[] calldata deviceProof
    ) private view returns (bytes32 digest) {
        digest = readingDigest(reading);
        // slither-disable-next-line unused-return: the third value only details `err`, which is checked
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != reading.device) {
            revert EscrowV2InvalidReadingSignature(reading.device, signer);
        }
        if (!MerkleProof.verifyCalldata(deviceProof, s.devicesRoot, deviceLeaf(reading.device))) {
            revert EscrowV2DeviceNotInShipment(reading.device);
        }
        _checkReadingTime(s, reading.takenAtMs);
    }

    /// @dev The reading's second lies in the window: [windowStart, deliveredAt] once attested,
    /// else [funding time, deadline].
    function _checkReadingTime(Shipment storage s, uint64 takenAtMs) private view {
        (uint256 from, uint256 to) =
            s.attestedAt != 0 ? (uint256(s.windowStart), uint256(s.deliveredAt)) : (uint256(s.fundedAt), uint256(s.deadline));
        uint256 takenAt = takenAtMs / 1000;
        if (takenAt < from || takenAt > to) revert EscrowV2ReadingOutsideWindow(takenAtMs, from * 1000, to * 1000 + 999);
    }

    /// @dev Records a new Funded shipment with the terms' amount as its deposit.
    function _store(Terms calldata terms, bytes32 termsHash) private {
        // Field by field: payout, refund, evidenceRoot and the later times stay zero until used.
        Shipment storage s = _shipments[terms.shipmentId];
        s.termsHash = termsHash;
        s.buyer = terms.buyer;
        s.fundedAt = uint64(block.timestamp);
        s.state = State.Funded;
        s.payee = terms.payee;
        s.deadline = terms.deadline;
        s.carrier = terms.carrier;
        s.refundGrace = terms.refundGrace;
        s.token = terms.token;
        s.disputeWindow = terms.disputeWindow;
        s.arbiter = terms.arbiter;
        s.disputeTimeout = terms.disputeTimeout;
        s.oracle = terms.oracle;
        // The oracle is active (checked), so its clock holds only ended suspensions.
        s.oracleSuspendedAtFund = _clocks[terms.oracle].total;
        s.amount = terms.amount;
        s.devicesRoot = terms.devicesRoot;
    }

    /// @dev Final step of every settlement: Settled, and the split owed to payee and buyer.
    function _credit(bytes32 shipmentId, Shipment storage s, uint256 payout, uint256 refundAmount) private {
        s.state = State.Settled;
        address token = s.token;
        if (payout != 0) _owed[token][s.payee] += payout;
        if (refundAmount != 0) _owed[token][s.buyer] += refundAmount;
        _totalOwed[token] += payout + refundAmount;
        emit ShipmentSettled(shipmentId, payout, refundAmount);
    }
}
