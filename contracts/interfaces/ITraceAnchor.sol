// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title ITraceAnchor
 * @notice Merkle roots of traceability events, anchored by the platform or signed by a brand.
 * @dev The leaf, tree and EIP-712 formats are consensus-critical and fixed by docs/formats.md
 * (version 1): changing any of them breaks every proof and signature already issued.
 */
interface ITraceAnchor {
    /// @notice What the contract records about an anchored root; `anchoredAt == 0` means unknown.
    /// @dev Packs into two slots; `brand` stays zero (never written) for platform batches.
    /// `brandRevokedAt` is never stored: {rootInfo} fills it with the time the root's brand was
    /// revoked (0 while it is not, and for platform batches).
    struct RootInfo {
        uint64 anchoredAt;
        uint64 blockNumber;
        uint32 leafCount;
        address brand;
        uint64 brandRevokedAt;
    }

    /// @notice A device's signed sensor reading (EIP-712 `Reading`, integers only, never floats).
    struct Reading {
        address device;
        uint64 seq;
        uint64 takenAtMs;
        int32 temperatureCentiC;
        uint32 humidityCentiPct;
        uint32 shockMilliG;
        int32 latE7;
        int32 lonE7;
    }

    /// @notice Emitted when `brand` is registered as the owner of the GS1 `companyPrefix`.
    event BrandRegistered(address indexed brand, string companyPrefix);

    /// @notice Emitted when the admin revoked `brand`: it can commission no more roots.
    event BrandRevoked(address indexed brand, string companyPrefix);

    /// @notice Emitted when `root` is anchored; `brand` is zero for platform batches.
    event RootAnchored(bytes32 indexed root, uint32 leafCount, address indexed brand);

    /// @notice The root is already anchored; a root is anchored at most once.
    error AnchorRootExists(bytes32 root);

    /// @notice The zero root cannot be anchored.
    error AnchorZeroRoot();

    /// @notice A root must cover at least one leaf.
    error AnchorZeroLeafCount();

    /// @notice A leaf kind other than 0 (EPCIS event) or 1 (errorDeclaration).
    error AnchorInvalidKind(uint8 kind);

    /// @notice The company prefix is not 6 to 12 ASCII digits.
    error AnchorInvalidPrefix(string companyPrefix);

    /// @notice The brand account is the zero address.
    error AnchorInvalidBrand(address brand);

    /// @notice The company prefix already belongs to `brand`.
    error AnchorPrefixRegistered(string companyPrefix, address brand);

    /// @notice The brand account already owns `companyPrefix`.
    error AnchorBrandRegistered(address brand, string companyPrefix);

    /// @notice The account is not a registered brand.
    error AnchorUnknownBrand(address brand);

    /// @notice The signature is not the brand's signature over the commissioning digest.
    error AnchorInvalidSignature(address brand);

    /// @notice The brand was revoked at `revokedAt` and can no longer commission roots.
    error AnchorBrandRevoked(address brand, uint64 revokedAt);

    // slither-disable-start naming-convention: constants' getters keep the constants' SCREAMING_CASE names
    /// @notice The role allowed to call {anchor}: `keccak256("ANCHORER_ROLE")`.
    function ANCHORER_ROLE() external view returns (bytes32);

    /// @notice Domain tag of leaf version 1: `keccak256("chaintrace.leaf.v1")`.
    function LEAF_V1() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Reading(...)` as written in docs/formats.md.
    function READING_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Commissioning(address brand,bytes32 root,uint32 leafCount)`.
    function COMMISSIONING_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `DeviceRegistration(address device,address operator)`.
    function DEVICE_REGISTRATION_TYPEHASH() external view returns (bytes32);
    // slither-disable-end naming-convention

    /**
     * @notice Registers `brand` as the owner of the GS1 `companyPrefix` (6 to 12 ASCII digits).
     * @dev Admin only. A brand account is registered once; a prefix once, or again after its
     * brand was revoked.
     *
     * NOTE: The admin is trusted to have checked that `brand` really holds the prefix with GS1.
     */
    function registerBrand(address brand, string calldata companyPrefix) external;

    /**
     * @notice Revokes `brand`: later {anchorCommissioning} for it reverts; its earlier roots stay
     * anchored and verifiable, and {rootInfo} shows when the brand was revoked.
     * @dev Admin only; final (a revoked account is never registered again). The prefix becomes
     * free: the admin may register it to a new brand account (a new key after a compromise).
     *
     * NOTE: Revocation does not say which earlier roots were legitimate: a verifier decides
     * whether a root anchored before `brandRevokedAt` is still trusted.
     */
    function revokeBrand(address brand) external;

    /// @notice When `brand` was revoked (unix seconds), or 0 if it is not.
    function brandRevokedAt(address brand) external view returns (uint64);

    /// @notice The brand that owns `companyPrefix`, or zero.
    function brandOf(string calldata companyPrefix) external view returns (address);

    /// @notice The company prefix owned (or, once revoked, last owned) by `brand`, or the empty string.
    function prefixOf(address brand) external view returns (string memory);

    /**
     * @notice Anchors a platform batch root covering `leafCount` leaves.
     * @dev ANCHORER_ROLE only.
     *
     * NOTE: A platform root proves only that the anchorer saw the events at that time, not who
     * wrote them; a brand's authorship is proven by {anchorCommissioning}.
     */
    function anchor(bytes32 root, uint32 leafCount) external;

    /**
     * @notice Anchors a brand's commissioning root; anyone may relay it.
     * @dev `signature` is the brand's EIP-712 `Commissioning` signature (an ERC-1271 wallet's
     * signature for contract accounts). A root is anchored once, so a signature cannot be replayed.
     */
    function anchorCommissioning(bytes32 root, uint32 leafCount, address brand, bytes calldata signature) external;

    /// @notice What is known about `root` (with its brand's revocation time); `anchoredAt == 0` means unknown.
    function rootInfo(bytes32 root) external view returns (RootInfo memory);

    /// @notice The Merkle leaf of `(kind, eventHash, salt)` as docs/formats.md defines it.
    function leafHash(uint8 kind, bytes32 eventHash, bytes32 salt) external pure returns (bytes32);

    /**
     * @notice Whether `proof` leads from the leaf of `(kind, eventHash, salt)` to an anchored root.
     * @dev Reverts with {AnchorInvalidKind} for a kind other than 0 or 1.
     */
    function verify(uint8 kind, bytes32 eventHash, bytes32 salt, bytes32[] calldata proof) external view returns (bool);

    /**
     * @notice Whether `root` is anchored and `proof` leads from the leaf to exactly that root.
     * @dev Reverts with {AnchorInvalidKind} for a kind other than 0 or 1.
     */
    function verifyAgainst(bytes32 root, uint8 kind, bytes32 eventHash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The EIP-712 struct hash of `reading`.
    function hashReading(Reading calldata reading) external pure returns (bytes32);

    /// @notice The EIP-712 digest a device signs for `reading`, bound to this contract's domain.
    function readingDigest(Reading calldata reading) external view returns (bytes32);

    /// @notice The EIP-712 digest a brand signs to commission `root`.
    function commissioningDigest(address brand, bytes32 root, uint32 leafCount) external view returns (bytes32);

    /// @notice The EIP-712 digest a device key signs to prove possession when it is registered.
    function deviceRegistrationDigest(address device, address operator) external view returns (bytes32);
}
