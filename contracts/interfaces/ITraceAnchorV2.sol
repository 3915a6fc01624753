// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/**
 * @title ITraceAnchorV2
 * @notice Merkle roots of traceability events, anchored by the platform or signed by a brand, and
 * the brands' standing (registered, revoked, compromised since) that decides which roots speak for
 * a brand.
 * @dev Release 2 beside TraceAnchor v1 (docs/formats.md, DESIGN.md "Deployments"): the leaf of
 * kinds 0, 1 and 3 and the EIP-712 types are v1's; the EIP-712 domain is version "2"; kind 2
 * (public projection) has its own leaf, {memberLeafHash}.
 *
 * A root is *confirmed by its brand* ({RootInfo.brandConfirmed}) when it was signed by a brand
 * and anchored before any `compromisedSince` recorded for that brand, or re-signed ({endorseRoot})
 * by the current holder of the same prefix before any `compromisedSince` of the endorser.
 * Platform roots ({anchor}) are never confirmed by a brand.
 */
interface ITraceAnchorV2 {
    struct RootInfo {
        uint64 anchoredAt;
        uint64 blockNumber;
        uint32 leafCount;
        address brand;
        uint64 brandRevokedAt;
        uint64 brandCompromisedSince;
        address endorsedBy;
        uint64 endorsedAt;
        bool brandConfirmed;
    }

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

    /// @notice `brand` now holds the GS1 `companyPrefix`.
    event BrandRegistered(address indexed brand, string companyPrefix);

    /// @notice `brand` may sign no more roots; the prefix may go to a new account.
    event BrandRevoked(address indexed brand, string companyPrefix);

    /// @notice Roots `brand` signed at or after `since` (unix seconds) are not its word.
    event BrandCompromised(address indexed brand, uint64 since);

    /// @notice `root` is anchored; `brand` signed it, or is zero for a platform root.
    event RootAnchored(bytes32 indexed root, uint32 leafCount, address indexed brand);

    /// @notice `brand`, the current holder of the prefix of `root`'s signer, re-signed `root`.
    event RootEndorsed(bytes32 indexed root, address indexed brand);

    error AnchorRootExists(bytes32 root);

    error AnchorZeroRoot();

    error AnchorZeroLeafCount();

    error AnchorInvalidKind(uint8 kind);

    error AnchorInvalidPrefix(string companyPrefix);

    error AnchorInvalidBrand(address brand);

    error AnchorPrefixRegistered(string companyPrefix, address brand);

    /// @notice `companyPrefix` nests with `registered` (empty when a longer registered prefix starts with it).
    error AnchorPrefixNested(string companyPrefix, string registered);

    error AnchorBrandRegistered(address brand, string companyPrefix);

    error AnchorUnknownBrand(address brand);

    error AnchorInvalidSignature(address brand);

    error AnchorBrandRevoked(address brand, uint64 revokedAt);

    error AnchorBrandCompromised(address brand, uint64 since);

    error AnchorInvalidCompromiseTime(uint64 since, uint64 recorded);

    error AnchorUnknownRoot(bytes32 root);

    error AnchorPlatformRoot(bytes32 root);

    error AnchorNotPrefixHolder(address brand, string companyPrefix);

    error AnchorRootEndorsed(bytes32 root, address endorsedBy);

    error AnchorInvalidGtin(string gtin);

    // slither-disable-start naming-convention: constants' getters keep the constants' SCREAMING_CASE names
    /// @notice Role that may anchor platform roots (the platform's anchorer key).
    function ANCHORER_ROLE() external view returns (bytes32);

    /// @notice Role that may register brands (onboarding; not behind the admin's transfer delay).
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice Domain tag of leaf version 1: `keccak256("chaintrace.leaf.v1")`.
    function LEAF_V1() external view returns (bytes32);

    /// @notice Domain tag of the public projection leaf (kind 2): `keccak256("chaintrace.member.v1")`.
    function MEMBER_V1() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Reading(...)` as written in docs/formats.md.
    function READING_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `Commissioning(address brand,bytes32 root,uint32 leafCount)`.
    function COMMISSIONING_TYPEHASH() external view returns (bytes32);

    /// @notice EIP-712 type hash of `DeviceRegistration(address device,address operator)`.
    function DEVICE_REGISTRATION_TYPEHASH() external view returns (bytes32);
    // slither-disable-end naming-convention

    /**
     * @notice Registers `brand` as the holder of the GS1 `companyPrefix` (6 to 12 ASCII digits).
     * @dev REGISTRAR_ROLE only. A brand account is registered once; a prefix once, or again after
     * its brand was revoked. A prefix that starts with, or is the start of, a prefix ever
     * registered is refused ({AnchorPrefixNested}): a GTIN belongs to one brand at most.
     *
     * NOTE: The registrar is trusted to have checked that `brand` really holds the prefix with GS1.
     */
    function registerBrand(address brand, string calldata companyPrefix) external;

    /**
     * @notice Revokes `brand`: it can sign and re-sign no more roots. Its earlier roots stay
     * anchored, verifiable and confirmed unless {markCompromised} says otherwise.
     * @dev DEFAULT_ADMIN_ROLE only; final. The prefix becomes free for a new account (a new key).
     */
    function revokeBrand(address brand) external;

    /**
     * @notice Records that `brand`'s key was out of its control from `since` (unix seconds, not in
     * the future): roots it signed at or after `since` are no longer confirmed by the brand unless
     * the prefix's new holder re-signs them ({endorseRoot}); the brand can sign no more roots.
     * @dev DEFAULT_ADMIN_ROLE only. A recorded time may only move earlier.
     */
    function markCompromised(address brand, uint64 since) external;

    /// @notice When `brand` was revoked (unix seconds), or 0 if it is not.
    function brandRevokedAt(address brand) external view returns (uint64);

    /// @notice Since when `brand`'s key is compromised (unix seconds), or 0 if it is not.
    function compromisedSince(address brand) external view returns (uint64);

    /// @notice The brand that holds `companyPrefix` now (a revoked one until the prefix moves), or zero.
    function brandOf(string calldata companyPrefix) external view returns (address);

    /// @notice The company prefix held (or, once revoked, last held) by `brand`, or the empty string.
    function prefixOf(address brand) external view returns (string memory);

    /**
     * @notice The brand holding the registered prefix that the GTIN-14 `gtin` starts with (after
     * its indicator digit), or zero. Prefixes never nest, so at most one matches.
     */
    function brandOfGtin(string calldata gtin) external view returns (address);

    /**
     * @notice Anchors a platform batch root covering `leafCount` leaves.
     * @dev ANCHORER_ROLE only.
     *
     * NOTE: A platform root proves only that the anchorer saw the events at that time, not who
     * wrote them: it is never confirmed by a brand.
     */
    function anchor(bytes32 root, uint32 leafCount) external;

    /**
     * @notice Anchors a brand's commissioning root; anyone may relay it.
     * @dev `signature` is the brand's EIP-712 `Commissioning` signature (ERC-1271 for contract
     * accounts). Refused for an unknown, revoked or compromised brand.
     */
    function anchorCommissioning(bytes32 root, uint32 leafCount, address brand, bytes calldata signature) external;

    /**
     * @notice Re-signs an anchored brand root: `brand` (the current, unrevoked, uncompromised
     * holder of the prefix of the root's signer) vouches for it with its EIP-712 `Commissioning`
     * signature over `(brand, root, leafCount)`. Anyone may relay it; a root holds one standing
     * re-signature (another replaces it only once it stopped counting: its key was marked
     * compromised from before it re-signed), and is never re-signed by its own signer
     * ({AnchorRootEndorsed}): that would add nothing, and the signer's anchoring signature is the
     * same message, so anyone could replay it to use the endorsement up.
     * @dev How a brand whose old key was compromised restores the roots it really signed.
     */
    function endorseRoot(bytes32 root, address brand, bytes calldata signature) external;

    /// @notice What is known about `root`; `anchoredAt == 0` means unknown.
    function rootInfo(bytes32 root) external view returns (RootInfo memory);

    /**
     * @notice The Merkle leaf of `(kind, hash, salt)` for kinds 0 (event), 1 (errorDeclaration)
     * and 3 (passport version), as docs/formats.md defines it.
     * @dev Reverts with {AnchorInvalidKind} for kind 2 (use {memberLeafHash}) and unknown kinds.
     */
    function leafHash(uint8 kind, bytes32 hash, bytes32 salt) external pure returns (bytes32);

    /// @notice The kind 2 leaf of the public projection of one EPC of an event of kind `eventKind` (0 or 1).
    function memberLeafHash(uint8 eventKind, bytes32 projectionHash, bytes32 salt) external pure returns (bytes32);

    /// @notice Whether `proof` leads from the leaf of `(kind, hash, salt)` (kinds 0, 1, 3) to an anchored root.
    function verify(uint8 kind, bytes32 hash, bytes32 salt, bytes32[] calldata proof) external view returns (bool);

    /// @notice Whether `proof` leads from the kind 2 leaf to an anchored root.
    function verifyMember(uint8 eventKind, bytes32 projectionHash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Whether `root` is anchored and `proof` leads from the leaf (kinds 0, 1, 3) to exactly that root.
    function verifyAgainst(bytes32 root, uint8 kind, bytes32 hash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /**
     * @notice Whether `proof` leads from the leaf (kinds 0, 1, 3) to a root confirmed by the brand
     * that holds, or held, the prefix of the GTIN-14 `gtin`: the on-chain half of "genuine".
     * @dev The caller checks that `hash` is the commissioning of an item of `gtin` (it recomputes
     * the hash from the event, which names the EPC).
     */
    function verifyBrandConfirmed(
        string calldata gtin,
        uint8 kind,
        bytes32 hash,
        bytes32 salt,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The EIP-712 struct hash of `reading`.
    function hashReading(Reading calldata reading) external pure returns (bytes32);

    /// @notice The EIP-712 digest a device signs for `reading`, bound to this contract's domain.
    function readingDigest(Reading calldata reading) external view returns (bytes32);

    /// @notice The EIP-712 digest a brand signs to commission or re-sign `root`.
    function commissioningDigest(address brand, bytes32 root, uint32 leafCount) external view returns (bytes32);

    /// @notice The EIP-712 digest a device key signs to prove possession when it is registered.
    function deviceRegistrationDigest(address device, address operator) external view returns (bytes32);
}
