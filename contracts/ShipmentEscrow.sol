// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IShipmentEscrow} from "./interfaces/IShipmentEscrow.sol";
import {ITraceAnchor} from "./interfaces/ITraceAnchor.sol";
import {Settlement} from "./libraries/Settlement.sol";

/**
 * @title ShipmentEscrow
 * @notice Holds a shipment's price in ETH or an allowlisted ERC-20 from funding until delivery is
 * attested and the dispute window (or a dispute) is over, then owes the payee its payout and the
 * buyer the SLA penalty.
 * @dev Every movement of value is a credit to {owed}; value leaves only through {withdraw}.
 *
 * WARNING: Holders of ORACLE_ROLE decide delivery and excursion minutes for every shipment, and
 * DEFAULT_ADMIN_ROLE decides who holds ORACLE_ROLE and which tokens are accepted. The arbiter of a
 * shipment's terms decides the split of a disputed deposit. Buyer and payee trust all three when
 * they sign terms; see {IShipmentEscrow} for what each can and cannot do.
 */
contract ShipmentEscrow is IShipmentEscrow, AccessControl, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @inheritdoc IShipmentEscrow
    bytes32 public constant override ORACLE_ROLE = keccak256("ORACLE_ROLE");

    /// @inheritdoc IShipmentEscrow
    bytes32 public constant override TERMS_TYPEHASH = keccak256(
        "Terms(bytes32 shipmentId,address buyer,address payee,address token,uint256 amount,"
        "int32 minTempCentiC,int32 maxTempCentiC,uint32 graceMinutes,uint32 penaltyBpsPerMinute,"
        "uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 deadline,uint64 refundGrace,"
        "uint64 disputeWindow,address arbiter,uint64 disputeTimeout)"
    );

    /// @inheritdoc IShipmentEscrow
    bytes32 public constant override ATTESTATION_TYPEHASH = keccak256(
        "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,"
        "uint32 excursionMinutes,uint64 deliveredAt)"
    );

    /// @inheritdoc IShipmentEscrow
    bytes32 public constant override EVIDENCE_V1 = keccak256("chaintrace.evidence.v1");

    ITraceAnchor private immutable _traceAnchor;

    mapping(bytes32 shipmentId => Shipment) private _shipments;
    mapping(address token => mapping(address account => uint256)) private _owed;
    mapping(address token => uint256) private _totalOwed;
    mapping(address token => bool) private _allowedTokens;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (grants ORACLE_ROLE, keeps the token allowlist).
    /// @param traceAnchor_ The TraceAnchor whose domain readings are signed in (for evidence).
    constructor(address admin, ITraceAnchor traceAnchor_) EIP712("chaintrace ShipmentEscrow", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _traceAnchor = traceAnchor_;
    }

    // ---------------------------------------------------------------- tokens

    /// @inheritdoc IShipmentEscrow
    function setTokenAllowed(address token, bool allowed) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token.code.length == 0) revert EscrowInvalidToken(token);
        _allowedTokens[token] = allowed;
        emit TokenAllowlistUpdated(token, allowed);
    }

    /// @inheritdoc IShipmentEscrow
    function isTokenAllowed(address token) external view override returns (bool) {
        return token == address(0) || _allowedTokens[token];
    }

    // ---------------------------------------------------------------- life cycle

    /// @inheritdoc IShipmentEscrow
    function fund(Terms calldata terms, bytes calldata buyerSig, bytes calldata payeeSig)
        external
        payable
        override
        nonReentrant
    {
        bytes32 shipmentId = terms.shipmentId;
        address token = terms.token;
        if (msg.sender != terms.buyer) revert EscrowNotBuyer(msg.sender, terms.buyer);
        if (token != address(0) && !_allowedTokens[token]) revert EscrowUnsupportedToken(token);
        if (terms.amount == 0) revert EscrowZeroAmount();
        uint256 expectedValue = token == address(0) ? terms.amount : 0;
        if (msg.value != expectedValue) revert EscrowWrongAmount(expectedValue, msg.value);
        if (_shipments[shipmentId].state != State.None) revert EscrowShipmentExists(shipmentId);
        _checkTerms(terms);
        bytes32 termsHash = hashTerms(terms);
        _checkTermsSignatures(terms, _hashTypedDataV4(termsHash), buyerSig, payeeSig);

        _store(terms, termsHash);
        uint256 deposit = terms.amount;
        if (token != address(0)) {
            // The only external call of fund; the shipment is recorded (Funded) before it and
            // nonReentrant covers every function that reads or moves value.
            IERC20 erc20 = IERC20(token);
            uint256 before = erc20.balanceOf(address(this));
            erc20.safeTransferFrom(msg.sender, address(this), terms.amount); // msg.sender is terms.buyer
            // Fee-on-transfer tokens deliver less than asked: the deposit is what arrived.
            deposit = erc20.balanceOf(address(this)) - before;
            // slither-disable-next-line incorrect-equality: a token that delivered nothing must not fund a shipment
            if (deposit == 0) revert EscrowZeroAmount();
            if (deposit != terms.amount) _shipments[shipmentId].amount = deposit;
        }
        emit ShipmentFunded(shipmentId, termsHash, terms.buyer, terms.payee, token, deposit);
    }

    /// @inheritdoc IShipmentEscrow
    function attest(DeliveryAttestation calldata attestation, bytes calldata oracleSig) external override {
        bytes32 shipmentId = attestation.shipmentId;
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Funded) revert EscrowInvalidState(shipmentId, s.state);
        if (attestation.termsHash != s.termsHash) revert EscrowTermsMismatch(s.termsHash, attestation.termsHash);
        uint64 deliveredAt = attestation.deliveredAt;
        uint64 deadline = s.deadline;
        if (deliveredAt > deadline) revert EscrowLateDelivery(deliveredAt, deadline);
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (deliveredAt > block.timestamp) revert EscrowDeliveryInFuture(deliveredAt, uint64(block.timestamp));
        // Cannot overflow: fund checked the sum of all durations and the deadline fits uint64.
        uint64 expiredAt = deadline + s.refundGrace;
        if (block.timestamp > expiredAt) revert EscrowAttestationExpired(expiredAt);
        address oracle = _recoverOracle(attestationDigest(attestation), oracleSig);

        (uint256 payout, uint256 refundAmount) =
            Settlement.split(s.amount, attestation.excursionMinutes, s.penaltyBpsPerMinute, s.penaltyCapBps);
        s.payout = payout;
        s.refund = refundAmount;
        s.evidenceRoot = attestation.evidenceRoot;
        s.attestedAt = uint64(block.timestamp);
        s.state = State.Attested;
        emit DeliveryAttested(
            shipmentId,
            attestation.evidenceRoot,
            attestation.excursionMinutes,
            deliveredAt,
            payout,
            refundAmount,
            oracle
        );
    }

    /// @inheritdoc IShipmentEscrow
    function openDispute(bytes32 shipmentId) external override {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Attested) revert EscrowInvalidState(shipmentId, s.state);
        if (msg.sender != s.buyer && msg.sender != s.payee) revert EscrowNotParty(msg.sender);
        if (s.arbiter == address(0)) revert EscrowNoArbiter(shipmentId);
        uint64 endsAt = s.attestedAt + s.disputeWindow;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp >= endsAt) revert EscrowDisputeWindowClosed(endsAt);

        s.disputedAt = uint64(block.timestamp);
        s.state = State.Disputed;
        emit DisputeOpened(shipmentId, msg.sender);
    }

    /// @inheritdoc IShipmentEscrow
    function submitEvidence(
        bytes32 shipmentId,
        ITraceAnchor.Reading calldata reading,
        bytes calldata signature,
        bytes32[] calldata proof
    ) external override {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Disputed) revert EscrowInvalidState(shipmentId, s.state);
        if (msg.sender != s.buyer && msg.sender != s.payee) revert EscrowNotParty(msg.sender);
        uint64 timesOutAt = s.disputedAt + s.disputeTimeout;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp >= timesOutAt) revert EscrowDisputeTimedOut(timesOutAt);

        bytes32 digest = _checkEvidence(s.evidenceRoot, reading, signature, proof);
        emit EvidenceSubmitted(
            shipmentId, msg.sender, digest, reading.device, reading.seq, reading.takenAtMs, reading.temperatureCentiC
        );
    }

    /// @inheritdoc IShipmentEscrow
    function resolveDispute(bytes32 shipmentId, uint256 payout) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Disputed) revert EscrowInvalidState(shipmentId, s.state);
        address arbiter = s.arbiter;
        if (msg.sender != arbiter) revert EscrowNotArbiter(msg.sender, arbiter);
        uint64 timesOutAt = s.disputedAt + s.disputeTimeout;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp >= timesOutAt) revert EscrowDisputeTimedOut(timesOutAt);
        uint256 amount = s.amount;
        if (payout > amount) revert EscrowInvalidSplit(payout, amount);

        uint256 refundAmount = amount - payout;
        s.payout = payout;
        s.refund = refundAmount;
        emit DisputeResolved(shipmentId, arbiter, payout, refundAmount);
        _credit(shipmentId, s, payout, refundAmount);
    }

    /// @inheritdoc IShipmentEscrow
    function settle(bytes32 shipmentId) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        State state = s.state;
        if (state == State.Attested) {
            uint64 endsAt = s.attestedAt + s.disputeWindow;
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp < endsAt) revert EscrowDisputeWindowOpen(endsAt);
        } else if (state == State.Disputed) {
            uint64 timesOutAt = s.disputedAt + s.disputeTimeout;
            // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
            if (block.timestamp < timesOutAt) revert EscrowDisputePending(timesOutAt);
        } else {
            revert EscrowInvalidState(shipmentId, state);
        }
        _credit(shipmentId, s, s.payout, s.refund);
    }

    /// @inheritdoc IShipmentEscrow
    function refund(bytes32 shipmentId) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Funded) revert EscrowInvalidState(shipmentId, s.state);
        uint64 refundableAt = s.deadline + s.refundGrace + 1;
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (block.timestamp < refundableAt) revert EscrowDeadlineNotPassed(refundableAt);

        uint256 amount = s.amount;
        s.state = State.Refunded;
        // Recorded so that payout + refund == amount holds for every final state.
        s.refund = amount;
        _owed[s.token][s.buyer] += amount;
        _totalOwed[s.token] += amount;
        emit ShipmentRefunded(shipmentId, amount);
    }

    /// @inheritdoc IShipmentEscrow
    function withdraw(address token) external override nonReentrant {
        uint256 amount = _owed[token][msg.sender];
        if (amount == 0) revert EscrowNothingOwed(msg.sender, token);
        _owed[token][msg.sender] = 0;
        _totalOwed[token] -= amount;
        emit Withdrawn(msg.sender, token, amount);
        // State is final before the transfer, and nonReentrant blocks re-entry into every value path.
        if (token == address(0)) {
            // slither-disable-next-line low-level-calls: ETH needs a call; failure is handled (EscrowTransferFailed)
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert EscrowTransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IShipmentEscrow
    function traceAnchor() external view override returns (ITraceAnchor) {
        return _traceAnchor;
    }

    /// @inheritdoc IShipmentEscrow
    function shipment(bytes32 shipmentId) external view override returns (Shipment memory) {
        return _shipments[shipmentId];
    }

    /// @inheritdoc IShipmentEscrow
    function owed(address token, address account) external view override returns (uint256) {
        return _owed[token][account];
    }

    /// @inheritdoc IShipmentEscrow
    function totalOwed(address token) external view override returns (uint256) {
        return _totalOwed[token];
    }

    /// @inheritdoc IShipmentEscrow
    function hashTerms(Terms calldata terms) public pure override returns (bytes32) {
        // Every Terms field is a static type, so abi.encode(terms) is exactly EIP-712's encodeData
        // (one 32-byte word per field, in order); listing 17 values would not fit the stack.
        return keccak256(bytes.concat(TERMS_TYPEHASH, abi.encode(terms)));
    }

    /// @inheritdoc IShipmentEscrow
    function termsDigest(Terms calldata terms) external view override returns (bytes32) {
        return _hashTypedDataV4(hashTerms(terms));
    }

    /// @inheritdoc IShipmentEscrow
    function attestationDigest(DeliveryAttestation calldata attestation) public view override returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ATTESTATION_TYPEHASH,
                    attestation.shipmentId,
                    attestation.termsHash,
                    attestation.evidenceRoot,
                    attestation.excursionMinutes,
                    attestation.deliveredAt
                )
            )
        );
    }

    /// @inheritdoc IShipmentEscrow
    function evidenceLeaf(bytes32 readingDigest) public pure override returns (bytes32) {
        // Double hashing as @openzeppelin/merkle-tree's StandardMerkleTree does (second preimage).
        return keccak256(bytes.concat(keccak256(abi.encode(EVIDENCE_V1, readingDigest))));
    }

    // ---------------------------------------------------------------- internals

    /// @dev Sanity checks on terms that no signature can make meaningful.
    function _checkTerms(Terms calldata terms) private view {
        if (terms.payee == address(0) || terms.payee == terms.buyer) revert EscrowInvalidPayee(terms.payee);
        address arbiter = terms.arbiter;
        if (arbiter != address(0) && (arbiter == terms.buyer || arbiter == terms.payee || terms.disputeTimeout == 0)) {
            revert EscrowInvalidArbiter(arbiter);
        }
        if (terms.minTempCentiC > terms.maxTempCentiC) {
            revert EscrowInvalidTemperatureBand(terms.minTempCentiC, terms.maxTempCentiC);
        }
        if (terms.penaltyCapBps > Settlement.BPS) revert EscrowInvalidPenaltyCap(terms.penaltyCapBps);
        // slither-disable-next-line timestamp: windows are hours to days; seconds of validator drift cannot matter
        if (terms.deadline <= block.timestamp) revert EscrowInvalidDeadline(terms.deadline);
        // Keeps every derived time (deadline + refundGrace + 1, attestedAt + disputeWindow,
        // disputedAt + disputeTimeout) in uint64: attestedAt <= deadline + refundGrace and
        // disputedAt < attestedAt + disputeWindow.
        if (
            uint256(terms.deadline) + terms.refundGrace + terms.disputeWindow + terms.disputeTimeout >= type(uint64).max
        ) {
            revert EscrowInvalidDurations(terms.deadline, terms.refundGrace, terms.disputeWindow, terms.disputeTimeout);
        }
    }

    /// @dev Both parties' signatures over the terms' digest; ERC-1271 wallets are only staticcalled.
    function _checkTermsSignatures(
        Terms calldata terms,
        bytes32 digest,
        bytes calldata buyerSig,
        bytes calldata payeeSig
    ) private view {
        if (!SignatureChecker.isValidSignatureNow(terms.buyer, digest, buyerSig)) {
            revert EscrowInvalidSignature(terms.buyer);
        }
        if (!SignatureChecker.isValidSignatureNow(terms.payee, digest, payeeSig)) {
            revert EscrowInvalidSignature(terms.payee);
        }
    }

    /// @dev Records a new Funded shipment with the terms' amount as its deposit.
    function _store(Terms calldata terms, bytes32 termsHash) private {
        // Field by field: payout, refund, evidenceRoot and the times stay zero until used.
        Shipment storage s = _shipments[terms.shipmentId];
        s.termsHash = termsHash;
        s.buyer = terms.buyer;
        s.deadline = terms.deadline;
        s.penaltyBpsPerMinute = terms.penaltyBpsPerMinute;
        s.payee = terms.payee;
        s.refundGrace = terms.refundGrace;
        s.penaltyCapBps = terms.penaltyCapBps;
        s.token = terms.token;
        s.disputeWindow = terms.disputeWindow;
        s.arbiter = terms.arbiter;
        s.disputeTimeout = terms.disputeTimeout;
        s.amount = terms.amount;
        s.state = State.Funded;
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

    /// @dev The reading's digest, once its device's signature and its proof to `root` check out.
    function _checkEvidence(
        bytes32 root,
        ITraceAnchor.Reading calldata reading,
        bytes calldata signature,
        bytes32[] calldata proof
    ) private view returns (bytes32 digest) {
        // A view of the immutable, trusted TraceAnchor: its domain is the one devices sign in.
        digest = _traceAnchor.readingDigest(reading);
        // slither-disable-next-line unused-return: the third value only details `err`, which is checked
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != reading.device) {
            revert EscrowInvalidReadingSignature(reading.device, signer);
        }
        if (!MerkleProof.verifyCalldata(proof, root, evidenceLeaf(digest))) {
            revert EscrowEvidenceNotAttested(digest, root);
        }
    }

    /// @dev The attestation's signer, which must hold ORACLE_ROLE. Oracles are EOAs (platform keys).
    function _recoverOracle(bytes32 digest, bytes calldata signature) private view returns (address) {
        // slither-disable-next-line unused-return: the third value only details `err`, which is checked
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || !hasRole(ORACLE_ROLE, signer)) revert EscrowNotOracle(signer);
        return signer;
    }
}
