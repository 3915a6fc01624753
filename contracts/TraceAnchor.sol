// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {ITraceAnchor} from "./interfaces/ITraceAnchor.sol";

/**
 * @title TraceAnchor
 * @notice Anchors Merkle roots of traceability events and verifies inclusion proofs against them.
 * @dev Leaves and trees follow docs/formats.md: the leaf is built here from `(kind, eventHash,
 * salt)`, so an inner node of a tree can never be presented as a leaf.
 *
 * WARNING: Holders of DEFAULT_ADMIN_ROLE decide who owns a GS1 company prefix and who may anchor
 * platform roots; holders of ANCHORER_ROLE can anchor any root as a platform batch.
 */
contract TraceAnchor is ITraceAnchor, AccessControl, EIP712 {
    /// @inheritdoc ITraceAnchor
    bytes32 public constant override ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @inheritdoc ITraceAnchor
    bytes32 public constant override LEAF_V1 = keccak256("chaintrace.leaf.v1");

    /// @inheritdoc ITraceAnchor
    bytes32 public constant override READING_TYPEHASH = keccak256(
        "Reading(address device,uint64 seq,uint64 takenAtMs,int32 temperatureCentiC,"
        "uint32 humidityCentiPct,uint32 shockMilliG,int32 latE7,int32 lonE7)"
    );

    /// @inheritdoc ITraceAnchor
    bytes32 public constant override COMMISSIONING_TYPEHASH =
        keccak256("Commissioning(address brand,bytes32 root,uint32 leafCount)");

    /// @inheritdoc ITraceAnchor
    bytes32 public constant override DEVICE_REGISTRATION_TYPEHASH =
        keccak256("DeviceRegistration(address device,address operator)");

    uint8 private constant _KIND_EVENT = 0;
    uint8 private constant _KIND_ERROR_DECLARATION = 1;
    uint256 private constant _MIN_PREFIX_LENGTH = 6;
    uint256 private constant _MAX_PREFIX_LENGTH = 12;

    // RootInfo.brandRevokedAt is never written here: rootInfo() fills it from _brandRevokedAt.
    mapping(bytes32 root => RootInfo) private _roots;
    mapping(string companyPrefix => address) private _brandOfPrefix;
    mapping(address brand => string) private _prefixOfBrand;
    mapping(address brand => uint64) private _brandRevokedAt;

    constructor(address admin, address anchorer) EIP712("chaintrace TraceAnchor", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, anchorer);
    }

    // ---------------------------------------------------------------- brands

    /// @inheritdoc ITraceAnchor
    function registerBrand(address brand, string calldata companyPrefix)
        external
        override
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (brand == address(0)) revert AnchorInvalidBrand(brand);
        if (!_isCompanyPrefix(companyPrefix)) revert AnchorInvalidPrefix(companyPrefix);
        address owner = _brandOfPrefix[companyPrefix];
        if (owner != address(0) && _brandRevokedAt[owner] == 0) revert AnchorPrefixRegistered(companyPrefix, owner);
        string storage existing = _prefixOfBrand[brand];
        if (bytes(existing).length != 0) revert AnchorBrandRegistered(brand, existing);

        _brandOfPrefix[companyPrefix] = brand;
        _prefixOfBrand[brand] = companyPrefix;
        emit BrandRegistered(brand, companyPrefix);
    }

    /// @inheritdoc ITraceAnchor
    function revokeBrand(address brand) external override onlyRole(DEFAULT_ADMIN_ROLE) {
        string storage prefix = _prefixOfBrand[brand];
        if (bytes(prefix).length == 0) revert AnchorUnknownBrand(brand);
        uint64 revokedAt = _brandRevokedAt[brand];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (revokedAt != 0) revert AnchorBrandRevoked(brand, revokedAt);

        _brandRevokedAt[brand] = uint64(block.timestamp);
        emit BrandRevoked(brand, prefix);
    }

    /// @inheritdoc ITraceAnchor
    function brandRevokedAt(address brand) external view override returns (uint64) {
        return _brandRevokedAt[brand];
    }

    /// @inheritdoc ITraceAnchor
    function brandOf(string calldata companyPrefix) external view override returns (address) {
        return _brandOfPrefix[companyPrefix];
    }

    /// @inheritdoc ITraceAnchor
    function prefixOf(address brand) external view override returns (string memory) {
        return _prefixOfBrand[brand];
    }

    // ---------------------------------------------------------------- anchoring

    /// @inheritdoc ITraceAnchor
    function anchor(bytes32 root, uint32 leafCount) external override onlyRole(ANCHORER_ROLE) {
        _anchor(root, leafCount, address(0));
    }

    /// @inheritdoc ITraceAnchor
    function anchorCommissioning(bytes32 root, uint32 leafCount, address brand, bytes calldata signature)
        external
        override
    {
        if (bytes(_prefixOfBrand[brand]).length == 0) revert AnchorUnknownBrand(brand);
        uint64 revokedAt = _brandRevokedAt[brand];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (revokedAt != 0) revert AnchorBrandRevoked(brand, revokedAt);
        bytes32 digest = commissioningDigest(brand, root, leafCount);
        if (!SignatureChecker.isValidSignatureNow(brand, digest, signature)) {
            revert AnchorInvalidSignature(brand);
        }
        _anchor(root, leafCount, brand);
    }

    /// @inheritdoc ITraceAnchor
    function rootInfo(bytes32 root) external view override returns (RootInfo memory info) {
        info = _roots[root];
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (info.brand != address(0)) info.brandRevokedAt = _brandRevokedAt[info.brand];
    }

    // ---------------------------------------------------------------- proofs

    /// @inheritdoc ITraceAnchor
    function leafHash(uint8 kind, bytes32 eventHash, bytes32 salt) public pure override returns (bytes32) {
        if (kind != _KIND_EVENT && kind != _KIND_ERROR_DECLARATION) revert AnchorInvalidKind(kind);
        // Double hashing as @openzeppelin/merkle-tree's StandardMerkleTree does (second preimage).
        return keccak256(bytes.concat(keccak256(abi.encode(LEAF_V1, kind, eventHash, salt))));
    }

    /// @inheritdoc ITraceAnchor
    function verify(uint8 kind, bytes32 eventHash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        override
        returns (bool)
    {
        bytes32 root = MerkleProof.processProofCalldata(proof, leafHash(kind, eventHash, salt));
        return _roots[root].anchoredAt != 0;
    }

    /// @inheritdoc ITraceAnchor
    function verifyAgainst(bytes32 root, uint8 kind, bytes32 eventHash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        override
        returns (bool)
    {
        bytes32 leaf = leafHash(kind, eventHash, salt);
        return _roots[root].anchoredAt != 0 && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    // ---------------------------------------------------------------- EIP-712 helpers

    /// @inheritdoc ITraceAnchor
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

    /// @inheritdoc ITraceAnchor
    function readingDigest(Reading calldata reading) external view override returns (bytes32) {
        return _hashTypedDataV4(hashReading(reading));
    }

    /// @inheritdoc ITraceAnchor
    function commissioningDigest(address brand, bytes32 root, uint32 leafCount) public view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COMMISSIONING_TYPEHASH, brand, root, leafCount)));
    }

    /// @inheritdoc ITraceAnchor
    function deviceRegistrationDigest(address device, address operator) external view override returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEVICE_REGISTRATION_TYPEHASH, device, operator)));
    }

    // ---------------------------------------------------------------- internals

    function _anchor(bytes32 root, uint32 leafCount, address brand) private {
        if (root == bytes32(0)) revert AnchorZeroRoot();
        if (leafCount == 0) revert AnchorZeroLeafCount();
        // slither-disable-next-line timestamp: no time is compared here (a zero test of a stored field)
        if (_roots[root].anchoredAt != 0) revert AnchorRootExists(root);

        // Written field by field so that a platform batch never touches the brand's slot.
        RootInfo storage info = _roots[root];
        info.anchoredAt = uint64(block.timestamp);
        info.blockNumber = uint64(block.number);
        info.leafCount = leafCount;
        if (brand != address(0)) info.brand = brand;
        emit RootAnchored(root, leafCount, brand);
    }

    /// @dev A GS1 company prefix: 6 to 12 ASCII digits.
    function _isCompanyPrefix(string calldata companyPrefix) private pure returns (bool) {
        bytes calldata digits = bytes(companyPrefix);
        if (digits.length < _MIN_PREFIX_LENGTH || digits.length > _MAX_PREFIX_LENGTH) return false;
        for (uint256 i = 0; i < digits.length; ++i) {
            if (digits[i] < "0" || digits[i] > "9") return false;
        }
        return true;
    }
}
