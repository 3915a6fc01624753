// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IShipmentEscrow} from "./interfaces/IShipmentEscrow.sol";
import {Settlement} from "./libraries/Settlement.sol";

/**
 * @title ShipmentEscrow
 * @notice Holds a shipment's price in ETH from funding until delivery is attested and the dispute
 * window has passed, then owes the payee its payout and the buyer the SLA penalty.
 * @dev Every movement of value is a credit to {owed}; ETH leaves only through {withdraw}.
 *
 * WARNING: Holders of ORACLE_ROLE decide delivery and excursion minutes for every shipment, and
 * DEFAULT_ADMIN_ROLE decides who holds ORACLE_ROLE. Buyer and payee trust both when they sign terms.
 */
contract ShipmentEscrow is IShipmentEscrow, AccessControl, EIP712, ReentrancyGuardTransient {
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

    mapping(bytes32 shipmentId => Shipment) private _shipments;
    mapping(address account => uint256) private _owed;

    constructor(address admin) EIP712("chaintrace ShipmentEscrow", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
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
        if (msg.sender != terms.buyer) revert EscrowNotBuyer(msg.sender, terms.buyer);
        if (terms.token != address(0)) revert EscrowUnsupportedToken(terms.token);
        if (terms.amount == 0) revert EscrowZeroAmount();
        if (msg.value != terms.amount) revert EscrowWrongAmount(terms.amount, msg.value);
        if (_shipments[shipmentId].state != State.None) revert EscrowShipmentExists(shipmentId);
        _checkTerms(terms);

        bytes32 termsHash = hashTerms(terms);
        bytes32 digest = _hashTypedDataV4(termsHash);
        // ERC-1271 wallets are called here with a staticcall: they cannot change state.
        if (!SignatureChecker.isValidSignatureNow(terms.buyer, digest, buyerSig)) {
            revert EscrowInvalidSignature(terms.buyer);
        }
        if (!SignatureChecker.isValidSignatureNow(terms.payee, digest, payeeSig)) {
            revert EscrowInvalidSignature(terms.payee);
        }

        // Field by field: payout, refund and attestedAt stay unwritten (zero) until attest.
        Shipment storage s = _shipments[shipmentId];
        s.termsHash = termsHash;
        s.buyer = terms.buyer;
        s.deadline = terms.deadline;
        s.penaltyBpsPerMinute = terms.penaltyBpsPerMinute;
        s.payee = terms.payee;
        s.refundGrace = terms.refundGrace;
        s.penaltyCapBps = terms.penaltyCapBps;
        s.amount = terms.amount;
        s.disputeWindow = terms.disputeWindow;
        s.state = State.Funded;
        emit ShipmentFunded(shipmentId, termsHash, terms.buyer, terms.payee, terms.amount);
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
        if (deliveredAt > block.timestamp) revert EscrowDeliveryInFuture(deliveredAt, uint64(block.timestamp));
        // Cannot overflow: fund checked deadline + refundGrace + disputeWindow < 2**64 - 1.
        uint64 expiredAt = deadline + s.refundGrace;
        if (block.timestamp > expiredAt) revert EscrowAttestationExpired(expiredAt);
        address oracle = _recoverOracle(attestationDigest(attestation), oracleSig);

        (uint256 payout, uint256 refundAmount) =
            Settlement.split(s.amount, attestation.excursionMinutes, s.penaltyBpsPerMinute, s.penaltyCapBps);
        s.payout = payout;
        s.refund = refundAmount;
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
    function settle(bytes32 shipmentId) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Attested) revert EscrowInvalidState(shipmentId, s.state);
        uint64 endsAt = s.attestedAt + s.disputeWindow;
        if (block.timestamp < endsAt) revert EscrowDisputeWindowOpen(endsAt);

        s.state = State.Settled;
        uint256 payout = s.payout;
        uint256 refundAmount = s.refund;
        if (payout != 0) _owed[s.payee] += payout;
        if (refundAmount != 0) _owed[s.buyer] += refundAmount;
        emit ShipmentSettled(shipmentId, payout, refundAmount);
    }

    /// @inheritdoc IShipmentEscrow
    function refund(bytes32 shipmentId) external override nonReentrant {
        Shipment storage s = _shipments[shipmentId];
        if (s.state != State.Funded) revert EscrowInvalidState(shipmentId, s.state);
        uint64 refundableAt = s.deadline + s.refundGrace + 1;
        if (block.timestamp < refundableAt) revert EscrowDeadlineNotPassed(refundableAt);

        uint256 amount = s.amount;
        s.state = State.Refunded;
        // Recorded so that payout + refund == amount holds for every final state.
        s.refund = amount;
        _owed[s.buyer] += amount;
        emit ShipmentRefunded(shipmentId, amount);
    }

    /// @inheritdoc IShipmentEscrow
    function withdraw() external override nonReentrant {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert EscrowNothingOwed(msg.sender);
        _owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        // State is final before the call, and nonReentrant blocks re-entry into every value path.
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert EscrowTransferFailed(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IShipmentEscrow
    function shipment(bytes32 shipmentId) external view override returns (Shipment memory) {
        return _shipments[shipmentId];
    }

    /// @inheritdoc IShipmentEscrow
    function owed(address account) external view override returns (uint256) {
        return _owed[account];
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

    // ---------------------------------------------------------------- internals

    /// @dev Sanity checks on terms that no signature can make meaningful.
    function _checkTerms(Terms calldata terms) private view {
        if (terms.payee == address(0) || terms.payee == terms.buyer) revert EscrowInvalidPayee(terms.payee);
        if (terms.minTempCentiC > terms.maxTempCentiC) {
            revert EscrowInvalidTemperatureBand(terms.minTempCentiC, terms.maxTempCentiC);
        }
        if (terms.penaltyCapBps > Settlement.BPS) revert EscrowInvalidPenaltyCap(terms.penaltyCapBps);
        if (terms.deadline <= block.timestamp) revert EscrowInvalidDeadline(terms.deadline);
        // Keeps every derived time (deadline + refundGrace + 1, attestedAt + disputeWindow) in uint64.
        if (uint256(terms.deadline) + terms.refundGrace + terms.disputeWindow >= type(uint64).max) {
            revert EscrowInvalidDurations(terms.deadline, terms.refundGrace, terms.disputeWindow);
        }
    }

    /// @dev The attestation's signer, which must hold ORACLE_ROLE. Oracles are EOAs (platform keys).
    function _recoverOracle(bytes32 digest, bytes calldata signature) private view returns (address) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || !hasRole(ORACLE_ROLE, signer)) revert EscrowNotOracle(signer);
        return signer;
    }
}
