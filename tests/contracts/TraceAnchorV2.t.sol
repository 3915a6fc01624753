// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {TraceAnchorV2} from "../../contracts/TraceAnchorV2.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {ITraceAnchorV2} from "../../contracts/interfaces/ITraceAnchorV2.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {TraceAnchorV2TestBase} from "./utils/TraceAnchorV2TestBase.sol";

/// @dev TraceAnchor v2: roles (registrar apart from the admin, two-step admin transfer) and both
/// ways of anchoring a root.
contract TraceAnchorV2Test is TraceAnchorV2TestBase {
    bytes32 internal constant ROOT = keccak256("root");

    // ---------------------------------------------------------------- roles

    function test_constructor_grantsRoles() public view {
        assertEq(anchor2.defaultAdmin(), admin);
        assertEq(anchor2.defaultAdminDelay(), ADMIN_DELAY);
        assertTrue(anchor2.hasRole(anchor2.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(anchor2.hasRole(anchor2.ANCHORER_ROLE(), anchorer));
        assertTrue(anchor2.hasRole(anchor2.REGISTRAR_ROLE(), registrar));
        assertFalse(anchor2.hasRole(anchor2.REGISTRAR_ROLE(), admin));
        assertFalse(anchor2.hasRole(anchor2.ANCHORER_ROLE(), admin));
        assertFalse(anchor2.hasRole(anchor2.DEFAULT_ADMIN_ROLE(), registrar));
        assertEq(anchor2.ANCHORER_ROLE(), keccak256("ANCHORER_ROLE"));
        assertEq(anchor2.REGISTRAR_ROLE(), keccak256("REGISTRAR_ROLE"));
    }

    function test_registerBrand_registrarNeedsNoAdminDelay() public {
        // The registrar is not the admin, and registers in the deployment's own block and second.
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.BrandRegistered(brand, PREFIX);
        vm.prank(registrar);
        anchor2.registerBrand(brand, PREFIX);
        assertEq(anchor2.brandOf(PREFIX), brand);
    }

    function test_registerBrand_newRegistrarRegistersAtOnce() public {
        bytes32 role = anchor2.REGISTRAR_ROLE();
        vm.prank(admin);
        anchor2.grantRole(role, stranger);
        vm.prank(stranger);
        anchor2.registerBrand(brand, PREFIX);
        assertEq(anchor2.brandOf(PREFIX), brand);
    }

    function test_registerBrand_revertsIfNotRegistrar() public {
        bytes32 role = anchor2.REGISTRAR_ROLE();
        address[3] memory others = [admin, anchorer, brand];
        for (uint256 i = 0; i < others.length; ++i) {
            vm.prank(others[i]);
            vm.expectRevert(_unauthorized(others[i], role));
            anchor2.registerBrand(brand, PREFIX);
        }
    }

    function test_registerBrand_revertsAfterRegistrarRoleRevoked() public {
        bytes32 role = anchor2.REGISTRAR_ROLE();
        vm.prank(admin);
        anchor2.revokeRole(role, registrar);
        vm.prank(registrar);
        vm.expectRevert(_unauthorized(registrar, role));
        anchor2.registerBrand(brand, PREFIX);
    }

    function test_revokeBrand_revertsIfNotAdmin() public {
        _register(brand, PREFIX);
        bytes32 role = anchor2.DEFAULT_ADMIN_ROLE();
        address[3] memory others = [registrar, anchorer, brand];
        for (uint256 i = 0; i < others.length; ++i) {
            vm.prank(others[i]);
            vm.expectRevert(_unauthorized(others[i], role));
            anchor2.revokeBrand(brand);
        }
    }

    function test_markCompromised_revertsIfNotAdmin() public {
        _register(brand, PREFIX);
        bytes32 role = anchor2.DEFAULT_ADMIN_ROLE();
        address[3] memory others = [registrar, anchorer, brand];
        for (uint256 i = 0; i < others.length; ++i) {
            vm.prank(others[i]);
            vm.expectRevert(_unauthorized(others[i], role));
            anchor2.markCompromised(brand, uint64(START_TIME));
        }
    }

    function test_anchor_revertsIfNotAnchorer() public {
        bytes32 role = anchor2.ANCHORER_ROLE();
        address[3] memory others = [admin, registrar, brand];
        for (uint256 i = 0; i < others.length; ++i) {
            vm.prank(others[i]);
            vm.expectRevert(_unauthorized(others[i], role));
            anchor2.anchor(ROOT, 1);
        }
    }

    function test_grantRole_revertsIfNotAdmin() public {
        bytes32 role = anchor2.REGISTRAR_ROLE();
        bytes32 adminRole = anchor2.DEFAULT_ADMIN_ROLE();
        vm.prank(registrar);
        vm.expectRevert(_unauthorized(registrar, adminRole));
        anchor2.grantRole(role, stranger);
    }

    function test_grantRole_defaultAdminOnlyThroughTransfer() public {
        bytes32 adminRole = anchor2.DEFAULT_ADMIN_ROLE();
        vm.prank(admin);
        vm.expectRevert(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector);
        anchor2.grantRole(adminRole, stranger);
    }

    function test_adminTransfer_isTwoStepBehindDelay() public {
        address newAdmin = makeAddr("new admin");
        _register(brand, PREFIX);
        uint48 schedule = uint48(START_TIME) + ADMIN_DELAY;

        vm.prank(stranger);
        vm.expectRevert(_unauthorized(stranger, bytes32(0)));
        anchor2.beginDefaultAdminTransfer(newAdmin);

        vm.prank(admin);
        anchor2.beginDefaultAdminTransfer(newAdmin);
        (address pending, uint48 acceptSchedule) = anchor2.pendingDefaultAdmin();
        assertEq(pending, newAdmin);
        assertEq(acceptSchedule, schedule);

        // Not before the delay has passed; and only the pending admin may accept.
        vm.warp(schedule);
        vm.prank(newAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector, schedule
            )
        );
        anchor2.acceptDefaultAdminTransfer();
        vm.prank(newAdmin);
        vm.expectRevert(_unauthorized(newAdmin, bytes32(0)));
        anchor2.revokeBrand(brand);

        vm.warp(schedule + 1);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControlDefaultAdminRules.AccessControlInvalidDefaultAdmin.selector, stranger)
        );
        anchor2.acceptDefaultAdminTransfer();
        vm.prank(newAdmin);
        anchor2.acceptDefaultAdminTransfer();

        assertEq(anchor2.defaultAdmin(), newAdmin);
        assertFalse(anchor2.hasRole(bytes32(0), admin));
        vm.prank(admin);
        vm.expectRevert(_unauthorized(admin, bytes32(0)));
        anchor2.revokeBrand(brand);
        vm.prank(newAdmin);
        anchor2.revokeBrand(brand);
        assertEq(anchor2.brandRevokedAt(brand), schedule + 1);
    }

    // ---------------------------------------------------------------- anchor

    function test_anchor_recordsRootInfo() public {
        vm.roll(1234);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.RootAnchored(ROOT, 1000, address(0));
        _anchorPlatform(ROOT, 1000);

        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(ROOT);
        assertEq(info.anchoredAt, START_TIME);
        assertEq(info.blockNumber, 1234);
        assertEq(info.leafCount, 1000);
        assertEq(info.brand, address(0));
        assertEq(info.endorsedBy, address(0));
        assertEq(info.endorsedAt, 0);
        assertEq(info.brandRevokedAt, 0);
        assertEq(info.brandCompromisedSince, 0);
        assertFalse(info.brandConfirmed);
    }

    function test_rootInfo_unknownRootIsZero() public view {
        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(ROOT);
        assertEq(info.anchoredAt, 0);
        assertEq(info.leafCount, 0);
        assertFalse(info.brandConfirmed);
    }

    function test_anchor_revertsOnZeroRoot() public {
        vm.prank(anchorer);
        vm.expectRevert(ITraceAnchorV2.AnchorZeroRoot.selector);
        anchor2.anchor(bytes32(0), 1);
    }

    function test_anchor_revertsOnZeroLeafCount() public {
        vm.prank(anchorer);
        vm.expectRevert(ITraceAnchorV2.AnchorZeroLeafCount.selector);
        anchor2.anchor(ROOT, 0);
    }

    function test_anchor_revertsOnExistingRoot() public {
        _anchorPlatform(ROOT, 3);
        vm.warp(START_TIME + 60);
        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorRootExists.selector, ROOT));
        anchor2.anchor(ROOT, 4);
        assertEq(anchor2.rootInfo(ROOT).anchoredAt, START_TIME, "first anchoring is kept");
    }

    // ---------------------------------------------------------------- anchorCommissioning

    function test_anchorCommissioning_recordsBrandAndIsConfirmed() public {
        _register(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.RootAnchored(ROOT, 50, brand);
        vm.prank(stranger); // any relayer: the brand's signature is the authorization
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);

        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(ROOT);
        assertEq(info.brand, brand);
        assertEq(info.leafCount, 50);
        assertEq(info.anchoredAt, START_TIME);
        assertTrue(info.brandConfirmed);
    }

    function test_anchorCommissioning_acceptsErc1271Brand() public {
        ERC1271Wallet wallet = new ERC1271Wallet(brand);
        _register(address(wallet), PREFIX);
        _commission(brandKey, address(wallet), ROOT, 50);
        assertEq(anchor2.rootInfo(ROOT).brand, address(wallet));
        assertTrue(anchor2.rootInfo(ROOT).brandConfirmed);
    }

    function test_anchorCommissioning_revertsOnErc1271OtherSigner() public {
        ERC1271Wallet wallet = new ERC1271Wallet(brand);
        _register(address(wallet), PREFIX);
        bytes memory sig = _commissioningSig(payeeKey, address(wallet), ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, address(wallet)));
        anchor2.anchorCommissioning(ROOT, 50, address(wallet), sig);
    }

    function test_anchorCommissioning_revertsOnUnknownBrand() public {
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorUnknownBrand.selector, brand));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnRevokedBrand() public {
        _register(brand, PREFIX);
        _revoke(brand);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandRevoked.selector, brand, START_TIME));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnCompromisedBrand() public {
        _register(brand, PREFIX);
        vm.warp(START_TIME + 1 days);
        _markCompromised(brand, uint64(START_TIME + 1 hours));
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(
            abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandCompromised.selector, brand, START_TIME + 1 hours)
        );
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnOtherSigner() public {
        _register(brand, PREFIX);
        bytes memory sig = _commissioningSig(payeeKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnAlteredLeafCount() public {
        _register(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand));
        anchor2.anchorCommissioning(ROOT, 51, brand, sig);
    }

    function test_anchorCommissioning_revertsOnV1DomainSignature() public {
        _register(brand, PREFIX);
        bytes memory sig = _sign(brandKey, traceAnchor.commissioningDigest(brand, ROOT, 50));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnSignatureForOtherDeployment() public {
        TraceAnchorV2 other = new TraceAnchorV2(admin, ADMIN_DELAY, anchorer, registrar);
        _register(brand, PREFIX);
        bytes memory sig = _sign(brandKey, other.commissioningDigest(brand, ROOT, 50));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnMalformedSignature() public {
        _register(brand, PREFIX);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand));
        anchor2.anchorCommissioning(ROOT, 50, brand, hex"00");
    }

    function test_anchorCommissioning_revertsOnReplay() public {
        _register(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorRootExists.selector, ROOT));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnRootAnchoredByPlatform() public {
        _register(brand, PREFIX);
        _anchorPlatform(ROOT, 50);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorRootExists.selector, ROOT));
        anchor2.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnZeroRoot() public {
        _register(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, bytes32(0), 50);
        vm.expectRevert(ITraceAnchorV2.AnchorZeroRoot.selector);
        anchor2.anchorCommissioning(bytes32(0), 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnZeroLeafCount() public {
        _register(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 0);
        vm.expectRevert(ITraceAnchorV2.AnchorZeroLeafCount.selector);
        anchor2.anchorCommissioning(ROOT, 0, brand, sig);
    }
}

/// @dev Leaves of every kind and inclusion proofs against sorted-pair trees built here.
contract TraceAnchorV2ProofsTest is TraceAnchorV2TestBase {
    bytes32 internal constant LEAF_V1 = keccak256("chaintrace.leaf.v1");
    bytes32 internal constant MEMBER_V1 = keccak256("chaintrace.member.v1");

    function _h(string memory tag) internal pure returns (bytes32) {
        return keccak256(bytes(tag));
    }

    function _leafFormula(uint8 kind, bytes32 hash, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(LEAF_V1, kind, hash, salt))));
    }

    function _memberFormula(uint8 eventKind, bytes32 projectionHash, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(MEMBER_V1, uint8(2), eventKind, projectionHash, salt))));
    }

    // ---------------------------------------------------------------- leafHash

    function test_leafHash_constants() public view {
        assertEq(anchor2.LEAF_V1(), LEAF_V1);
        assertEq(anchor2.MEMBER_V1(), MEMBER_V1);
        assertEq(anchor2.LEAF_V1(), traceAnchor.LEAF_V1());
    }

    function test_leafHash_acceptsKinds013() public view {
        uint8[3] memory kinds = [0, 1, 3];
        for (uint256 i = 0; i < kinds.length; ++i) {
            assertEq(anchor2.leafHash(kinds[i], _h("e"), _h("s")), _leafFormula(kinds[i], _h("e"), _h("s")));
        }
    }

    function test_leafHash_equalsV1ForKinds0And1() public view {
        for (uint8 kind = 0; kind <= 1; ++kind) {
            assertEq(anchor2.leafHash(kind, _h("e"), _h("s")), traceAnchor.leafHash(kind, _h("e"), _h("s")));
        }
    }

    function test_leafHash_revertsForKind2() public {
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, uint8(2)));
        anchor2.leafHash(2, bytes32(0), bytes32(0));
    }

    function testFuzz_leafHash_revertsForKind2AndAbove3(uint8 kind, bytes32 hash, bytes32 salt) public {
        kind = uint8(bound(kind, 3, type(uint8).max));
        if (kind == 3) kind = 2; // 2 and 4..255
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, kind));
        anchor2.leafHash(kind, hash, salt);
    }

    function testFuzz_leafHash_matchesFormula(uint8 kindSeed, bytes32 hash, bytes32 salt) public view {
        uint8 kind = [0, 1, 3][kindSeed % 3];
        assertEq(anchor2.leafHash(kind, hash, salt), _leafFormula(kind, hash, salt));
    }

    function testFuzz_leafHash_equalsV1(bool errorDeclaration, bytes32 hash, bytes32 salt) public view {
        uint8 kind = errorDeclaration ? 1 : 0;
        assertEq(anchor2.leafHash(kind, hash, salt), traceAnchor.leafHash(kind, hash, salt));
    }

    // ---------------------------------------------------------------- memberLeafHash

    function test_memberLeafHash_matchesDesign() public view {
        for (uint8 eventKind = 0; eventKind <= 1; ++eventKind) {
            bytes32 expected = keccak256(
                bytes.concat(
                    keccak256(abi.encode(keccak256("chaintrace.member.v1"), uint8(2), eventKind, _h("p"), _h("s")))
                )
            );
            assertEq(anchor2.memberLeafHash(eventKind, _h("p"), _h("s")), expected);
            assertTrue(
                anchor2.memberLeafHash(eventKind, _h("p"), _h("s")) != anchor2.leafHash(eventKind, _h("p"), _h("s"))
            );
        }
    }

    function testFuzz_memberLeafHash_matchesFormula(bool errorDeclaration, bytes32 projectionHash, bytes32 salt)
        public
        view
    {
        uint8 eventKind = errorDeclaration ? 1 : 0;
        assertEq(
            anchor2.memberLeafHash(eventKind, projectionHash, salt), _memberFormula(eventKind, projectionHash, salt)
        );
    }

    function testFuzz_memberLeafHash_revertsForEventKindAbove1(uint8 eventKind, bytes32 hash, bytes32 salt) public {
        eventKind = uint8(bound(eventKind, 2, type(uint8).max));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, eventKind));
        anchor2.memberLeafHash(eventKind, hash, salt);
    }

    // ---------------------------------------------------------------- verify, verifyMember, verifyAgainst

    function test_verify_twoLeafTree() public {
        bytes32 a = anchor2.leafHash(0, _h("event a"), _h("salt a"));
        bytes32 b = anchor2.leafHash(3, _h("passport b"), _h("salt b"));
        (bytes32 root, bytes32[] memory proofA, bytes32[] memory proofB) = _tree2(a, b);
        assertFalse(anchor2.verify(0, _h("event a"), _h("salt a"), proofA), "before anchoring");
        assertFalse(anchor2.verifyAgainst(root, 0, _h("event a"), _h("salt a"), proofA), "before anchoring");
        _anchorPlatform(root, 2);

        assertTrue(anchor2.verify(0, _h("event a"), _h("salt a"), proofA));
        assertTrue(anchor2.verify(3, _h("passport b"), _h("salt b"), proofB));
        assertTrue(anchor2.verifyAgainst(root, 0, _h("event a"), _h("salt a"), proofA));
        assertTrue(anchor2.verifyAgainst(root, 3, _h("passport b"), _h("salt b"), proofB));
        assertFalse(anchor2.verify(0, _h("event a"), _h("salt a"), proofB), "other leaf's proof");
        assertFalse(anchor2.verify(1, _h("event a"), _h("salt a"), proofA), "other kind");
        assertFalse(anchor2.verify(0, _h("passport b"), _h("salt b"), proofB), "passport as event");
    }

    function test_verify_threeLeafTree() public {
        uint8[3] memory kinds = [0, 1, 3];
        bytes32[3] memory hashes = [_h("event"), _h("error declaration"), _h("passport")];
        bytes32[3] memory salts = [_h("s0"), _h("s1"), _h("s2")];
        (bytes32 root, bytes32[][] memory proofs) = _tree3(
            anchor2.leafHash(kinds[0], hashes[0], salts[0]),
            anchor2.leafHash(kinds[1], hashes[1], salts[1]),
            anchor2.leafHash(kinds[2], hashes[2], salts[2])
        );
        _anchorPlatform(root, 3);
        bytes32 other = keccak256("other root");
        _anchorPlatform(other, 1);
        for (uint256 i = 0; i < 3; ++i) {
            assertTrue(anchor2.verify(kinds[i], hashes[i], salts[i], proofs[i]));
            assertTrue(anchor2.verifyAgainst(root, kinds[i], hashes[i], salts[i], proofs[i]));
            assertFalse(anchor2.verifyAgainst(other, kinds[i], hashes[i], salts[i], proofs[i]), "other root");
            assertFalse(anchor2.verify(kinds[i], hashes[i], ~salts[i], proofs[i]), "wrong salt");
        }
    }

    function test_verifyMember_inMixedTrees() public {
        bytes32 member0 = anchor2.memberLeafHash(0, _h("projection 0"), _h("m0"));
        bytes32 member1 = anchor2.memberLeafHash(1, _h("projection 1"), _h("m1"));
        bytes32 eventLeaf = anchor2.leafHash(0, _h("full event"), _h("e"));

        (bytes32 root2, bytes32[] memory proof0,) = _tree2(member0, eventLeaf);
        _anchorPlatform(root2, 2);
        assertTrue(anchor2.verifyMember(0, _h("projection 0"), _h("m0"), proof0));
        assertFalse(anchor2.verifyMember(1, _h("projection 0"), _h("m0"), proof0), "other event kind");
        assertFalse(anchor2.verify(0, _h("projection 0"), _h("m0"), proof0), "a member leaf is not a kind 0 leaf");

        (bytes32 root3, bytes32[][] memory proofs) = _tree3(eventLeaf, member1, member0);
        _anchorPlatform(root3, 3);
        assertTrue(anchor2.verifyMember(1, _h("projection 1"), _h("m1"), proofs[1]));
        assertTrue(anchor2.verifyMember(0, _h("projection 0"), _h("m0"), proofs[2]));
        assertTrue(anchor2.verify(0, _h("full event"), _h("e"), proofs[0]));
        assertFalse(anchor2.verifyMember(0, _h("full event"), _h("e"), proofs[0]), "an event leaf is not a member");
    }

    function test_verify_falseForUnknownRoot() public view {
        bytes32 a = anchor2.leafHash(0, _h("a"), _h("s"));
        bytes32 m = anchor2.memberLeafHash(0, _h("p"), _h("s"));
        (bytes32 root, bytes32[] memory proofA, bytes32[] memory proofM) = _tree2(a, m);
        assertFalse(anchor2.verify(0, _h("a"), _h("s"), proofA));
        assertFalse(anchor2.verifyMember(0, _h("p"), _h("s"), proofM));
        assertFalse(anchor2.verifyAgainst(root, 0, _h("a"), _h("s"), proofA));
        assertFalse(anchor2.verify(0, _h("a"), _h("s"), new bytes32[](0)));
    }

    function test_verify_falseForTamperedProof() public {
        bytes32 a = anchor2.leafHash(0, _h("a"), _h("sa"));
        bytes32 b = anchor2.leafHash(1, _h("b"), _h("sb"));
        bytes32 m = anchor2.memberLeafHash(0, _h("p"), _h("sm"));
        (bytes32 root, bytes32[][] memory proofs) = _tree3(a, b, m);
        _anchorPlatform(root, 3);

        bytes32[] memory flipped = _path2(proofs[0][0], proofs[0][1] ^ bytes32(uint256(1)));
        assertFalse(anchor2.verify(0, _h("a"), _h("sa"), flipped));
        assertFalse(anchor2.verifyAgainst(root, 0, _h("a"), _h("sa"), flipped));
        bytes32[] memory shortened = _path1(proofs[0][0]);
        assertFalse(anchor2.verify(0, _h("a"), _h("sa"), shortened), "missing step");
        bytes32[] memory extended = new bytes32[](3);
        (extended[0], extended[1], extended[2]) = (proofs[0][0], proofs[0][1], root);
        assertFalse(anchor2.verify(0, _h("a"), _h("sa"), extended), "extra step");
        assertFalse(anchor2.verify(0, _h("a"), _h("sa"), new bytes32[](0)), "empty proof");
        bytes32[] memory memberFlipped = _path1(~proofs[2][0]);
        assertFalse(anchor2.verifyMember(0, _h("p"), _h("sm"), memberFlipped));
        assertTrue(anchor2.verifyMember(0, _h("p"), _h("sm"), proofs[2]), "the untampered proof verifies");
    }

    function test_verify_innerNodeNeverVerifiesAsLeaf() public {
        _register(brand, PREFIX);
        bytes32 a = anchor2.leafHash(0, _h("a"), _h("sa"));
        bytes32 b = anchor2.leafHash(0, _h("b"), _h("sb"));
        bytes32 c = anchor2.leafHash(0, _h("c"), _h("sc"));
        (bytes32 root, bytes32[][] memory proofs) = _tree3(a, b, c);
        _commission(brandKey, brand, root, 3);

        bytes32 inner = Hashes.commutativeKeccak256(a, b);
        bytes32[] memory rest = _path1(c);
        assertEq(MerkleProof.processProof(rest, inner), root, "a bare MerkleProof would accept it");
        uint8[3] memory kinds = [0, 1, 3];
        for (uint256 i = 0; i < kinds.length; ++i) {
            assertFalse(anchor2.verify(kinds[i], inner, bytes32(0), rest));
            assertFalse(anchor2.verifyAgainst(root, kinds[i], inner, bytes32(0), rest));
            assertFalse(anchor2.verifyBrandConfirmed(GTIN, kinds[i], inner, bytes32(0), rest));
        }
        assertFalse(anchor2.verifyMember(0, inner, bytes32(0), rest));
        assertFalse(anchor2.verifyMember(1, inner, bytes32(0), rest));
        assertTrue(anchor2.verifyBrandConfirmed(GTIN, 0, _h("c"), _h("sc"), proofs[2]), "the real leaf does");
    }

    function test_verify_revertsOnInvalidKind() public {
        bytes32[] memory proof = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, uint8(2)));
        anchor2.verify(2, bytes32(0), bytes32(0), proof);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, uint8(4)));
        anchor2.verifyAgainst(keccak256("root"), 4, bytes32(0), bytes32(0), proof);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, uint8(2)));
        anchor2.verifyMember(2, bytes32(0), bytes32(0), proof);
    }

    function test_verify_singleLeafTreeHasEmptyProof() public {
        bytes32 leaf = anchor2.leafHash(3, _h("passport"), _h("s"));
        _anchorPlatform(leaf, 1);
        assertTrue(anchor2.verify(3, _h("passport"), _h("s"), new bytes32[](0)));
        assertTrue(anchor2.verifyAgainst(leaf, 3, _h("passport"), _h("s"), new bytes32[](0)));
    }

    function testFuzz_verify_threeLeafTree(
        bytes32 hashA,
        bytes32 hashB,
        bytes32 projection,
        bytes32 salt,
        uint8 kindSeed
    ) public {
        uint8 kind = [0, 1, 3][kindSeed % 3];
        bytes32 a = anchor2.leafHash(kind, hashA, salt);
        bytes32 b = anchor2.leafHash(0, hashB, ~salt);
        bytes32 m = anchor2.memberLeafHash(1, projection, salt);
        vm.assume(a != b && a != m && b != m);
        (bytes32 root, bytes32[][] memory proofs) = _tree3(a, b, m);
        _anchorPlatform(root, 3);

        assertTrue(anchor2.verify(kind, hashA, salt, proofs[0]));
        assertTrue(anchor2.verifyAgainst(root, 0, hashB, ~salt, proofs[1]));
        assertTrue(anchor2.verifyMember(1, projection, salt, proofs[2]));
        assertFalse(anchor2.verify(kind, hashA, ~salt, proofs[0]));
        assertFalse(anchor2.verifyMember(0, projection, salt, proofs[2]));
        assertFalse(anchor2.verify(kind, hashA, salt, proofs[1]));
    }
}

/// @dev The v2 EIP-712 domain: v1's types under version "2", pinned to an independent encoder.
contract TraceAnchorV2Eip712Test is TraceAnchorV2TestBase {
    // Produced by eth-account 0.14 (encode_typed_data) for chainId 31337, verifyingContract PINNED,
    // domain ("chaintrace TraceAnchor", "2") and the inputs of TraceAnchorEip712.t.sol's v1 vectors.
    address internal constant PINNED = 0xa0c0000000000000000000000000000000000a0c;
    bytes32 internal constant COMMISSIONING_DIGEST = 0x16cca403a4b951f48a6c067db6e1b4b56881e30d22b6d1d391106ca7f3c6b422;
    bytes32 internal constant READING_DIGEST = 0x4959f1901a7756d028ed236c4dd330bd9dce04d5a5565bc2d84f09d304c4e53f;
    bytes32 internal constant DEVICE_DIGEST = 0x2ceb13f4a71c94de6c0437b107dc413cd5c674f98cefb20230e32788e04ad03b;
    address internal constant PINNED_V1 = 0xa0C0000000000000000000000000000000000a0d;

    TraceAnchorV2 internal pinned;

    function setUp() public override {
        super.setUp();
        deployCodeTo("TraceAnchorV2.sol:TraceAnchorV2", abi.encode(admin, ADMIN_DELAY, anchorer, registrar), PINNED);
        pinned = TraceAnchorV2(PINNED);
    }

    function _reading() internal pure returns (ITraceAnchorV2.Reading memory) {
        return ITraceAnchorV2.Reading({
            device: 0x4000000000000000000000000000000000000004,
            seq: 7,
            takenAtMs: 1_700_000_000_123,
            temperatureCentiC: -1234,
            humidityCentiPct: 5678,
            shockMilliG: 90,
            latE7: -338_688_500,
            lonE7: 1_512_093_000
        });
    }

    function _readingV1() internal pure returns (ITraceAnchor.Reading memory r) {
        ITraceAnchorV2.Reading memory v2 = _reading();
        r = ITraceAnchor.Reading(
            v2.device,
            v2.seq,
            v2.takenAtMs,
            v2.temperatureCentiC,
            v2.humidityCentiPct,
            v2.shockMilliG,
            v2.latE7,
            v2.lonE7
        );
    }

    function test_eip712Domain_isVersion2() public view {
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = anchor2.eip712Domain();
        assertEq(fields, hex"0f");
        assertEq(name, "chaintrace TraceAnchor");
        assertEq(version, "2");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(anchor2));
        assertEq(salt, bytes32(0));
        assertEq(extensions.length, 0);
    }

    function test_typehashes_equalV1() public view {
        assertEq(anchor2.READING_TYPEHASH(), traceAnchor.READING_TYPEHASH());
        assertEq(anchor2.COMMISSIONING_TYPEHASH(), traceAnchor.COMMISSIONING_TYPEHASH());
        assertEq(anchor2.DEVICE_REGISTRATION_TYPEHASH(), traceAnchor.DEVICE_REGISTRATION_TYPEHASH());
        assertEq(
            anchor2.COMMISSIONING_TYPEHASH(), keccak256("Commissioning(address brand,bytes32 root,uint32 leafCount)")
        );
    }

    function test_hashReading_equalsV1() public view {
        assertEq(anchor2.hashReading(_reading()), traceAnchor.hashReading(_readingV1()));
    }

    function test_digests_matchEthAccount() public view {
        assertEq(
            pinned.commissioningDigest(
                0x5000000000000000000000000000000000000005,
                0x4444444444444444444444444444444444444444444444444444444444444444,
                1000
            ),
            COMMISSIONING_DIGEST
        );
        assertEq(pinned.readingDigest(_reading()), READING_DIGEST);
        assertEq(
            pinned.deviceRegistrationDigest(
                0x4000000000000000000000000000000000000004, 0x6000000000000000000000000000000000000006
            ),
            DEVICE_DIGEST
        );
    }

    function test_digests_differFromV1() public {
        deployCodeTo("TraceAnchor.sol:TraceAnchor", abi.encode(admin, anchorer), PINNED_V1);
        TraceAnchorV2 v2 = pinned;
        ITraceAnchor v1 = ITraceAnchor(PINNED_V1);
        bytes32 root = keccak256("root");
        // Same message and chain; only the domain (version and address) differs.
        assertTrue(v2.commissioningDigest(brand, root, 5) != v1.commissioningDigest(brand, root, 5));
        assertTrue(v2.readingDigest(_reading()) != v1.readingDigest(_readingV1()));
        assertTrue(v2.deviceRegistrationDigest(device, brand) != v1.deviceRegistrationDigest(device, brand));
        // And at the same address, the version alone separates them.
        bytes32 structHash = keccak256(abi.encode(v2.COMMISSIONING_TYPEHASH(), brand, root, uint32(5)));
        assertEq(v2.commissioningDigest(brand, root, 5), _digest("2", PINNED, structHash));
        assertTrue(_digest("1", PINNED, structHash) != _digest("2", PINNED, structHash));
    }

    function test_commissioningDigest_isBoundToChain() public {
        bytes32 here = anchor2.commissioningDigest(brand, keccak256("root"), 1);
        vm.chainId(1);
        assertTrue(anchor2.commissioningDigest(brand, keccak256("root"), 1) != here);
    }

    function _digest(string memory version, address verifyingContract, bytes32 structHash)
        internal
        view
        returns (bytes32)
    {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("chaintrace TraceAnchor"),
                keccak256(bytes(version)),
                block.chainid,
                verifyingContract
            )
        );
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }
}
