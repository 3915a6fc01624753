// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {ITraceAnchorV2} from "./interfaces/ITraceAnchorV2.sol";

/**
 * @title TraceAnchorV2
 * @notice Anchors Merkle roots of traceability events, verifies inclusion proofs for every leaf
 * kind, and records the brands' standing so that "signed by the brand" can be decided on chain.
 * @dev Release 2, deployed beside TraceAnchor v1 (whose roots keep verifying there). Leaves and
 * trees follow docs/formats.md; every leaf is built here, so an inner node can never pass as one.
 *
 * WARNING: DEFAULT_ADMIN_ROLE (two-step transfer behind a delay) revokes brands, records
 * compromises and grants roles; REGISTRAR_ROLE decides who holds a GS1 company prefix;
 * ANCHORER_ROLE anchors platform roots, which are never confirmed by a brand.
 */
contract TraceAnchorV2 is ITraceAnchorV2, AccessControlDefaultAdminRules, EIP712 {
    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override LEAF_V1 = keccak256("chaintrace.leaf.v1");

    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override MEMBER_V1 = keccak256("chaintrace.member.v1");

    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override READING_TYPEHASH = keccak256(
        "Reading(address device,uint64 seq,uint64 takenAtMs,int32 temperatureCentiC,"
        "uint32 humidityCentiPct,uint32 shockMilliG,int32 latE7,int32 lonE7)"
    );

    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override COMMISSIONING_TYPEHASH =
        keccak256("Commissioning(address brand,bytes32 root,uint32 leafCount)");

    /// @inheritdoc ITraceAnchorV2
    bytes32 public constant override DEVICE_REGISTRATION_TYPEHASH =
        keccak256("DeviceRegistration(address device,address operator)");

    uint8 private constant _KIND_EVENT = 0;
    uint8 private constant _KIND_ERROR_DECLARATION = 1;
    uint8 private constant _KIND_MEMBER = 2;
    uint8 private constant _KIND_PASSPORT = 3;
    uint256 private constant _MIN_PREFIX_LENGTH = 6;
    uint256 private constant _MAX_PREFIX_LENGTH = 12;
    uint256 private constant _GTIN_LENGTH = 14;

    struct StoredRoot {
        uint64 anchoredAt;
        uint64 blockNumber;
        uint32 leafCount;
        address brand;
        address endorsedBy;
        uint64 endorsedAt;
    }

    mapping(bytes32 root => StoredRoot) private _roots;
    mapping(string companyPrefix => address) private _brandOfPrefix;
    mapping(address brand => string) private _prefixOfBrand;
    mapping(address brand => uint64) private _brandRevokedAt;
    mapping(address brand => uint64) private _compromisedSince;
    // How many registered prefixes start with a given (shorter) prefix: nesting is refused both ways.
    mapping(string companyPrefix => uint256) private _longerPrefixes;

    /**
     * @param admin DEFAULT_ADMIN_ROLE (a timelock or multisig in production).
     * @param adminDelay Seconds an admin transfer waits before the new admin may accept it.
     * @param anchorer ANCHORER_ROLE: the platform's anchoring key.
     * @param registrar REGISTRAR_ROLE: brand onboarding.
     */
    constructor(address admin, uint48 adminDelay, address anchorer, address registrar)
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("chaintrace TraceAnchor", "2")
    {
        _grantRole(ANCHORER_ROLE, anchorer);
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    // ---------------------------------------------------------------- brands

    /// @inheritdoc ITraceAnchorV2
    function registerBrand(address brand, string calldata companyPrefix) external override onlyRole(REGISTRAR_ROLE) {
        if (brand == address(0)) revert AnchorInvalidBrand(brand);
        if (!_isDigits(bytes(companyPrefix), _MIN_PREFIX_LENGTH, _MAX_PREFIX_LENGTH)) {
            revert AnchorInvalidPrefix(companyPrefix);
        }
        address holder = _brandOfPrefix[companyPrefix];
        if (holder != address(0) && _brandRevokedAt[holder] == 0) revert AnchorPrefixRegistered(companyPrefix, holder);
        string storage existing = _prefixOfBrand[brand];
        if (bytes(existing).length != 0) revert AnchorBrandRegistered(brand, existing);
        if (holder == address(0)) _checkNotNested(companyPrefix);

        _brandOfPrefix[companyPrefix] = brand;
        _prefixOfBrand[brand] = companyPrefix;
        emit BrandRegistered(brand, companyPrefix);
    }

    /// @inheritdoc ITraceAnchorV2
    function revokeBrand(address brand) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        string storage prefix = _prefixOfBrand[brand];
        if (bytes(prefix).length == 0) revert AnchorUnknownBrand(brand);
        uint64 revokedAt = _brandRevokedAt[brand];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (revokedAt != 0) revert AnchorBrandRevoked(brand, revokedAt);

        _brandRevokedAt[brand] = uint64(block.timestamp);
        emit BrandRevoked(brand, prefix);
    }

    /// @inheritdoc ITraceAnchorV2
    function markCompromised(address brand, uint64 since) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        if (bytes(_prefixOfBrand[brand]).length == 0) revert AnchorUnknownBrand(brand);
        uint64 recorded = _compromisedSince[brand];
        // slither-disable-next-line timestamp: a time the admin gives must not lie in the future
        if (since == 0 || since > block.timestamp || (recorded != 0 && since >= recorded)) {
            revert AnchorInvalidCompromiseTime(since, recorded);
        }
        _compromisedSince[brand] = since;
        emit BrandCompromised(brand, since);
    }

    /// @inheritdoc ITraceAnchorV2
    function brandRevokedAt(address brand) external view override returns (uint64) {
        return _brandRevokedAt[brand];
    }

    /// @inheritdoc ITraceAnchorV2
    function compromisedSince(address brand) external view override returns (uint64) {
        return _compromisedSince[brand];
    }

    /// @inheritdoc ITraceAnchorV2
    function brandOf(string calldata companyPrefix) external view override returns (address) {
        return _brandOfPrefix[companyPrefix];
    }

    /// @inheritdoc ITraceAnchorV2
    function prefixOf(address brand) external view override returns (string memory) {
        return _prefixOfBrand[brand];
    }

    /// @inheritdoc ITraceAnchorV2
    function brandOfGtin(string calldata gtin) public view override returns (address) {
        bytes calldata digits = bytes(gtin);
        if (!_isDigits(digits, _GTIN_LENGTH, _GTIN_LENGTH)) revert AnchorInvalidGtin(gtin);
        for (uint256 length = _MAX_PREFIX_LENGTH; length >= _MIN_PREFIX_LENGTH; --length) {
            address holder = _brandOfPrefix[string(digits[1:1 + length])];
            if (holder != address(0)) return holder;
        }
        return address(0);
    }

    // ---------------------------------------------------------------- anchoring

    /// @inheritdoc ITraceAnchorV2
    function anchor(bytes32 root, uint32 leafCount) external override onlyRole(ANCHORER_ROLE) {
        _anchor(root, leafCount, address(0));
    }

    /// @inheritdoc ITraceAnchorV2
    function anchorCommissioning(bytes32 root, uint32 leafCount, address brand, bytes calldata signature)
        external
        override
    {
        _checkCanSign(brand);
        _checkSignature(brand, root, leafCount, signature);
        _anchor(root, leafCount, brand);
    }

    /// @inheritdoc ITraceAnchorV2
    function endorseRoot(bytes32 root, address brand, bytes calldata signature) external override {
        StoredRoot storage info = _roots[root];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (info.anchoredAt == 0) revert AnchorUnknownRoot(root);
        address signer = info.brand;
        if (signer == address(0)) revert AnchorPlatformRoot(root);
        address endorser = info.endorsedBy;
        // One standing re-signature a root: another only once it stopped counting (its key was
        // marked compromised from before it re-signed).
        if (endorser != address(0) && _signedBefore(endorser, info.endorsedAt)) {
            revert AnchorRootEndorsed(root, endorser);
        }
        _checkCanSign(brand);
        // The signer's re-signature would add nothing, and its anchoring signature is the same
        // message: anyone could replay it to use up the root's one endorsement.
        if (brand == signer) revert AnchorRootEndorsed(root, signer);
        string storage prefix = _prefixOfBrand[signer];
        if (_brandOfPrefix[prefix] != brand) revert AnchorNotPrefixHolder(brand, prefix);
        _checkSignature(brand, root, info.leafCount, signature);

        info.endorsedBy = brand;
        info.endorsedAt = uint64(block.timestamp);
        emit RootEndorsed(root, brand);
    }

    /// @inheritdoc ITraceAnchorV2
    function rootInfo(bytes32 root) external view override returns (RootInfo memory info) {
        StoredRoot storage stored = _roots[root];
        info.anchoredAt = stored.anchoredAt;
        info.blockNumber = stored.blockNumber;
        info.leafCount = stored.leafCount;
        info.brand = stored.brand;
        info.endorsedBy = stored.endorsedBy;
        info.endorsedAt = stored.endorsedAt;
        if (stored.brand != address(0)) {
            info.brandRevokedAt = _brandRevokedAt[stored.brand];
            info.brandCompromisedSince = _compromisedSince[stored.brand];
        }
        info.brandConfirmed = _confirmer(stored) != address(0);
    }

    // ---------------------------------------------------------------- proofs

    /// @inheritdoc ITraceAnchorV2
    function leafHash(uint8 kind, bytes32 hash, bytes32 salt) public pure override returns (bytes32) {
        if (kind != _KIND_EVENT && kind != _KIND_ERROR_DECLARATION && kind != _KIND_PASSPORT) {
            revert AnchorInvalidKind(kind);
        }
        // Double hashing as @openzeppelin/merkle-tree's StandardMerkleTree does (second preimage).
        return keccak256(bytes.concat(keccak256(abi.encode(LEAF_V1, kind, hash, salt))));
    }

    /// @inheritdoc ITraceAnchorV2
    function memberLeafHash(uint8 eventKind, bytes32 projectionHash, bytes32 salt)
        public
        pure
        override
        returns (bytes32)
    {
        if (eventKind != _KIND_EVENT && eventKind != _KIND_ERROR_DECLARATION) {
            revert AnchorInvalidKind(eventKind);
        }
        return keccak256(bytes.concat(keccak256(abi.encode(MEMBER_V1, _KIND_MEMBER, eventKind, projectionHash, salt))));
    }

    /// @inheritdoc ITraceAnchorV2
    function verify(uint8 kind, bytes32 hash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        override
        returns (bool)
    {
        return _anchored(MerkleProof.processProofCalldata(proof, leafHash(kind, hash, salt)));
    }

    /// @inheritdoc ITraceAnchorV2
    function verifyMember(uint8 eventKind, bytes32 projectionHash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        override
        returns (bool)
    {
        return _anchored(MerkleProof.processProofCalldata(proof, memberLeafHash(eventKind, projectionHash, salt)));
    }

    /// @inheritdoc ITraceAnchorV2
    function verifyAgainst(bytes32 root, uint8 kind, bytes32 hash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        override
        returns (bool)
    {
        bytes32 leaf = leafHash(kind, hash, salt);
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        return _anchored(root) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc ITraceAnchorV2
    function verifyBrandConfirmed(
        string calldata gtin,
        uint8 kind,
        bytes32 hash,
        bytes32 salt,
        bytes32[] calldata proof
    ) external view override returns (bool) {
        bytes calldata digits = bytes(gtin);
        if (!_isDigits(digits, _GTIN_LENGTH, _GTIN_LENGTH)) revert AnchorInvalidGtin(gtin);
        bytes32 root = MerkleProof.processProofCalldata(proof, leafHash(kind, hash, salt));
        address confirmer = _confirmer(_roots[root]);
        if (confirmer == address(0)) return false;
        bytes memory prefix = bytes(_prefixOfBrand[confirmer]);
        return keccak256(digits[1:1 + prefix.length]) == keccak256(prefix);
    }

    // ---------------------------------------------------------------- EIP-712 helpers

    /// @inheritdoc ITraceAnchorV2
    function hashReading(Reading calldata reading) public pure override returns (bytes32) {
        return keccak256(
            abi.encode(
                READING_TYPEHASH,
                reading.device,
                reading.seq,
                reading.takenAtMs,
                reading.temperatureCentiC,
                reading.humidityCentiPct,
                reading.shockMilliG,
                reading.latE7,
                reading.lonE7
            )
        );
    }

    /// @inheritdoc ITraceAnchorV2
    function readingDigest(Reading calldata reading) external view override returns (bytes32) {
        return _hashTypedDataV4(hashReading(reading));
    }

    /// @inheritdoc ITraceAnchorV2
    function commissioningDigest(address brand, bytes32 root, uint32 leafCount) public view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COMMISSIONING_TYPEHASH, brand, root, leafCount)));
    }

    /// @inheritdoc ITraceAnchorV2
    function deviceRegistrationDigest(address device, address operator) external view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEVICE_REGISTRATION_TYPEHASH, device, operator)));
    }

    // ---------------------------------------------------------------- internals

    function _anchor(bytes32 root, uint32 leafCount, address brand) private {
        if (root == bytes32(0)) revert AnchorZeroRoot();
        if (leafCount == 0) revert AnchorZeroLeafCount();
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (_roots[root].anchoredAt != 0) revert AnchorRootExists(root);

        // Field by field: a platform root never writes the brand's slot, no root the endorsement's.
        StoredRoot storage info = _roots[root];
        info.anchoredAt = uint64(block.timestamp);
        info.blockNumber = uint64(block.number);
        info.leafCount = leafCount;
        if (brand != address(0)) info.brand = brand;
        emit RootAnchored(root, leafCount, brand);
    }

    function _anchored(bytes32 root) private view returns (bool) {
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        return _roots[root].anchoredAt != 0;
    }

    /// @dev Registered, not revoked, not compromised: the brand's signature still counts.
    function _checkCanSign(address brand) private view {
        if (bytes(_prefixOfBrand[brand]).length == 0) revert AnchorUnknownBrand(brand);
        uint64 revokedAt = _brandRevokedAt[brand];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (revokedAt != 0) revert AnchorBrandRevoked(brand, revokedAt);
        uint64 since = _compromisedSince[brand];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (since != 0) revert AnchorBrandCompromised(brand, since);
    }

    function _checkSignature(address brand, bytes32 root, uint32 leafCount, bytes calldata signature) private view {
        if (!SignatureChecker.isValidSignatureNow(brand, commissioningDigest(brand, root, leafCount), signature)) {
            revert AnchorInvalidSignature(brand);
        }
    }

    /// @dev The brand whose word `info` is (its signer, else its endorser), or zero if none.
    function _confirmer(StoredRoot storage info) private view returns (address) {
        address signer = info.brand;
        if (signer == address(0)) return address(0);
        if (_signedBefore(signer, info.anchoredAt)) return signer;
        address endorser = info.endorsedBy;
        if (endorser != address(0) && _signedBefore(endorser, info.endorsedAt)) return endorser;
        return address(0);
    }

    /// @dev Whether a signature by `brand` taken at `time` predates any compromise of its key.
    function _signedBefore(address brand, uint64 time) private view returns (bool) {
        uint64 since = _compromisedSince[brand];
        // slither-disable-next-line timestamp: comparing stored block times, the rule itself
        return since == 0 || time < since;
    }

    /// @dev No registered prefix starts with `companyPrefix`, nor is the start of it; then counts it.
    function _checkNotNested(string calldata companyPrefix) private {
        if (_longerPrefixes[companyPrefix] != 0) revert AnchorPrefixNested(companyPrefix, "");
        bytes calldata digits = bytes(companyPrefix);
        for (uint256 length = _MIN_PREFIX_LENGTH; length < digits.length; ++length) {
            string memory shorter = string(digits[:length]);
            if (_brandOfPrefix[shorter] != address(0)) revert AnchorPrefixNested(companyPrefix, shorter);
            ++_longerPrefixes[shorter];
        }
    }

    /// @dev `digits` is between `minLength` and `maxLength` ASCII digits.
    function _isDigits(bytes calldata digits, uint256 minLength, uint256 maxLength) private pure returns (bool) {
        if (digits.length < minLength || digits.length > maxLength) return false;
        for (uint256 i = 0; i < digits.length; ++i) {
            if (digits[i] < "0" || digits[i] > "9") return false;
        }
        return true;
    }
}
