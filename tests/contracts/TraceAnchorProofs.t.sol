// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {ChaintraceTest} from "./utils/ChaintraceTest.sol";

/// @dev Leaves and inclusion proofs, checked against trees made by @openzeppelin/merkle-tree.
contract TraceAnchorProofsTest is ChaintraceTest {
    // Produced by @openzeppelin/merkle-tree 1.0.8 (node_modules), with
    //   eventHash_i = sha256("event <i>"), salt_i = sha256("salt <i>"), kind 1 for i == 3 else 0:
    //   StandardMerkleTree.of([[LEAF_V1, kind_i, eventHash_i, salt_i] for i in 0..4],
    //                         ["bytes32", "uint8", "bytes32", "bytes32"])
    //   then t.root, t.leafHash(v) and t.getProof(i) for each entry.
    bytes32 internal constant NPM_ROOT = 0x886610c10bb1e22b8064ec6cbead3d732cf04ad9b4269052dde3af4403e25f3f;
    uint32 internal constant LEAVES = 5;

    function _kind(uint256 i) internal pure returns (uint8) {
        return i == 3 ? 1 : 0;
    }

    function _eventHash(uint256 i) internal pure returns (bytes32) {
        return sha256(bytes(string.concat("event ", vm.toString(i))));
    }

    function _salt(uint256 i) internal pure returns (bytes32) {
        return sha256(bytes(string.concat("salt ", vm.toString(i))));
    }

    function _npmLeaf(uint256 i) internal pure returns (bytes32) {
        return [
            bytes32(0x059b1979c5bdef942f709d3f624bf7b8deea80bccd8c0a1b9617ee56b54dadc4),
            0x1307ce96b40984e61887e70ce5cd1725921003d93011ee7cd675e37dde860572,
            0x696ae18ba972d036dd6ea70327c83e5cc4a2bc3ffd19f668a968cf66def64423,
            0x3c41393931af9cf312388da648ca67f2f7fcef0fdbab7142f2ca79f8edc4ea0b,
            0x4e5d28d518463c9fedd130413c5440341ae65dc664bc7c04a0177a997df49839
        ][i];
    }

    /// @dev t.getProof(i), pasted as printed.
    function _npmProof(uint256 i) internal pure returns (bytes32[] memory proof) {
        bytes32 p1307 = 0x1307ce96b40984e61887e70ce5cd1725921003d93011ee7cd675e37dde860572;
        bytes32 p059b = 0x059b1979c5bdef942f709d3f624bf7b8deea80bccd8c0a1b9617ee56b54dadc4;
        bytes32 p696a = 0x696ae18ba972d036dd6ea70327c83e5cc4a2bc3ffd19f668a968cf66def64423;
        bytes32 pbfd8 = 0xbfd82d4c3599ec5d8df8c52e7584049acff27a71009a5939b60d5ea6fd858fd2;
        bytes32 pe57f = 0xe57fecab2790d220d42fdcb31740e97f14424cf142a3a8dd588ec53306cee857;
        bytes32 p4e5d = 0x4e5d28d518463c9fedd130413c5440341ae65dc664bc7c04a0177a997df49839;
        bytes32 p3c41 = 0x3c41393931af9cf312388da648ca67f2f7fcef0fdbab7142f2ca79f8edc4ea0b;
        bytes32 pa789 = 0xa7894f54909b04803d54020ba7f9dd7938a4186c8d371ab474d2b34d0a1a6d1c;
        if (i == 0) return _proof3(p1307, p696a, pbfd8);
        if (i == 1) return _proof3(p059b, p696a, pbfd8);
        if (i == 2) return _proof2(pe57f, pbfd8);
        if (i == 3) return _proof2(p4e5d, pa789);
        return _proof2(p3c41, pa789);
    }

    function _proof2(bytes32 a, bytes32 b) private pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        (p[0], p[1]) = (a, b);
    }

    function _proof3(bytes32 a, bytes32 b, bytes32 c) private pure returns (bytes32[] memory p) {
        p = new bytes32[](3);
        (p[0], p[1], p[2]) = (a, b, c);
    }

    function _anchorNpmTree() internal {
        vm.prank(anchorer);
        traceAnchor.anchor(NPM_ROOT, LEAVES);
    }

    // ---------------------------------------------------------------- leafHash

    function test_leafHash_matchesMerkleTreePackage() public view {
        assertEq(traceAnchor.LEAF_V1(), keccak256("chaintrace.leaf.v1"));
        for (uint256 i = 0; i < LEAVES; ++i) {
            assertEq(traceAnchor.leafHash(_kind(i), _eventHash(i), _salt(i)), _npmLeaf(i));
        }
    }

    function testFuzz_leafHash_revertsOnInvalidKind(uint8 kind) public {
        kind = uint8(bound(kind, 2, type(uint8).max));
        (bytes32 eventHash, bytes32 salt) = (_eventHash(0), _salt(0));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidKind.selector, kind));
        traceAnchor.leafHash(kind, eventHash, salt);
    }

    // ---------------------------------------------------------------- verify

    function test_verify_acceptsEveryLeafOfAnchoredTree() public {
        _anchorNpmTree();
        for (uint256 i = 0; i < LEAVES; ++i) {
            assertTrue(traceAnchor.verify(_kind(i), _eventHash(i), _salt(i), _npmProof(i)));
            assertTrue(traceAnchor.verifyAgainst(NPM_ROOT, _kind(i), _eventHash(i), _salt(i), _npmProof(i)));
        }
    }

    function test_verify_falseBeforeAnchoring() public view {
        assertFalse(traceAnchor.verify(0, _eventHash(0), _salt(0), _npmProof(0)));
        assertFalse(traceAnchor.verifyAgainst(NPM_ROOT, 0, _eventHash(0), _salt(0), _npmProof(0)));
    }

    function test_verify_rejectsWrongSalt() public {
        _anchorNpmTree();
        assertFalse(traceAnchor.verify(0, _eventHash(0), _salt(1), _npmProof(0)));
    }

    function test_verify_rejectsWrongKind() public {
        _anchorNpmTree();
        // Leaf 3 is an errorDeclaration: the same hash as an ordinary event is another leaf.
        assertFalse(traceAnchor.verify(0, _eventHash(3), _salt(3), _npmProof(3)));
        assertFalse(traceAnchor.verify(1, _eventHash(0), _salt(0), _npmProof(0)));
    }

    function test_verify_rejectsWrongEventHash() public {
        _anchorNpmTree();
        assertFalse(traceAnchor.verify(0, _eventHash(1), _salt(0), _npmProof(0)));
    }

    function test_verify_rejectsAlteredProof() public {
        _anchorNpmTree();
        bytes32[] memory proof = _npmProof(0);
        proof[1] = bytes32(uint256(proof[1]) ^ 1);
        assertFalse(traceAnchor.verify(0, _eventHash(0), _salt(0), proof));
        assertFalse(traceAnchor.verify(0, _eventHash(0), _salt(0), _npmProof(1)), "another leaf's proof");
        assertFalse(traceAnchor.verify(0, _eventHash(0), _salt(0), new bytes32[](0)), "empty proof");
    }

    function test_verify_innerNodeCannotPassAsLeaf() public {
        _anchorNpmTree();
        // The proof of leaf 3 without its first step leads from the inner node (l3, l4) to the
        // root; but verify always hashes (kind, eventHash, salt) into a leaf first.
        bytes32 inner = Hashes.commutativeKeccak256(_npmLeaf(3), _npmLeaf(4));
        bytes32[] memory rest = new bytes32[](1);
        rest[0] = _npmProof(3)[1];
        assertEq(MerkleProof.processProof(rest, inner), NPM_ROOT, "a bare MerkleProof would accept it");
        assertFalse(traceAnchor.verify(0, inner, bytes32(0), rest));
        assertFalse(traceAnchor.verify(1, inner, bytes32(0), rest));
    }

    function test_verify_revertsOnInvalidKind() public {
        _anchorNpmTree();
        // Computed first: sha256 is a precompile call, which expectRevert would take as "the next call".
        (bytes32 eventHash, bytes32 salt, bytes32[] memory proof) = (_eventHash(0), _salt(0), _npmProof(0));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidKind.selector, uint8(2)));
        traceAnchor.verify(2, eventHash, salt, proof);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidKind.selector, uint8(7)));
        traceAnchor.verifyAgainst(NPM_ROOT, 7, eventHash, salt, proof);
    }

    function test_verifyAgainst_rejectsOtherAnchoredRoot() public {
        _anchorNpmTree();
        bytes32 otherRoot = keccak256("other root");
        vm.prank(anchorer);
        traceAnchor.anchor(otherRoot, 1);
        assertFalse(traceAnchor.verifyAgainst(otherRoot, 0, _eventHash(0), _salt(0), _npmProof(0)));
    }

    function test_verify_singleLeafTreeHasEmptyProof() public {
        bytes32 leaf = traceAnchor.leafHash(1, _eventHash(9), _salt(9));
        vm.prank(anchorer);
        traceAnchor.anchor(leaf, 1);
        assertTrue(traceAnchor.verify(1, _eventHash(9), _salt(9), new bytes32[](0)));
    }

    function testFuzz_verify_twoLeafTree(bytes32 eventA, bytes32 saltA, bytes32 eventB, bytes32 saltB, bool kindA)
        public
    {
        uint8 kind = kindA ? 1 : 0;
        bytes32 leafA = traceAnchor.leafHash(kind, eventA, saltA);
        bytes32 leafB = traceAnchor.leafHash(0, eventB, saltB);
        vm.assume(leafA != leafB);
        bytes32 root = Hashes.commutativeKeccak256(leafA, leafB);
        vm.prank(anchorer);
        traceAnchor.anchor(root, 2);

        bytes32[] memory proofA = new bytes32[](1);
        proofA[0] = leafB;
        bytes32[] memory proofB = new bytes32[](1);
        proofB[0] = leafA;
        assertTrue(traceAnchor.verify(kind, eventA, saltA, proofA));
        assertTrue(traceAnchor.verify(0, eventB, saltB, proofB));
        assertFalse(traceAnchor.verify(kind, eventA, ~saltA, proofA));
        assertFalse(traceAnchor.verify(1 - kind, eventA, saltA, proofA));
    }
}
