// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {TraceAnchorV2} from "../../../contracts/TraceAnchorV2.sol";
import {ChaintraceTest} from "./ChaintraceTest.sol";

/// @dev TraceAnchor v2 beside the shared fixture's v1 (`traceAnchor`): a registrar that is not the
/// admin, an admin transfer delay, and helpers to register, sign, anchor, endorse and build trees.
abstract contract TraceAnchorV2TestBase is ChaintraceTest {
    uint48 internal constant ADMIN_DELAY = 2 days;
    string internal constant PREFIX = "0614141";
    /// @dev A GTIN-14 whose company prefix (after the indicator digit) is PREFIX.
    string internal constant GTIN = "10614141000415";

    address internal registrar;
    address internal brand2;
    uint256 internal brand2Key;
    TraceAnchorV2 internal anchor2;

    function setUp() public virtual override {
        super.setUp();
        registrar = makeAddr("registrar");
        (brand2, brand2Key) = makeAddrAndKey("brand2");
        anchor2 = new TraceAnchorV2(admin, ADMIN_DELAY, anchorer, registrar);
    }

    // ---------------------------------------------------------------- brands

    function _register(address account, string memory prefix) internal {
        vm.prank(registrar);
        anchor2.registerBrand(account, prefix);
    }

    function _revoke(address account) internal {
        vm.prank(admin);
        anchor2.revokeBrand(account);
    }

    function _markCompromised(address account, uint64 since) internal {
        vm.prank(admin);
        anchor2.markCompromised(account, since);
    }

    /// @dev A GTIN-14: indicator 1, then `prefix`, then zeros up to 14 digits (no check digit needed).
    function _gtinOf(string memory prefix) internal pure returns (string memory gtin) {
        gtin = string.concat("1", prefix);
        while (bytes(gtin).length < 14) {
            gtin = string.concat(gtin, "0");
        }
    }

    // ---------------------------------------------------------------- roots

    function _commissioningSig(uint256 key, address account, bytes32 root, uint32 leafCount)
        internal
        view
        returns (bytes memory)
    {
        return _sign(key, anchor2.commissioningDigest(account, root, leafCount));
    }

    /// @dev Anchors `root` as signed by `account` (key `key`), relayed by a stranger.
    function _commission(uint256 key, address account, bytes32 root, uint32 leafCount) internal {
        bytes memory sig = _commissioningSig(key, account, root, leafCount);
        vm.prank(stranger);
        anchor2.anchorCommissioning(root, leafCount, account, sig);
    }

    function _endorse(uint256 key, address account, bytes32 root) internal {
        bytes memory sig = _commissioningSig(key, account, root, anchor2.rootInfo(root).leafCount);
        vm.prank(stranger);
        anchor2.endorseRoot(root, account, sig);
    }

    function _anchorPlatform(bytes32 root, uint32 leafCount) internal {
        vm.prank(anchorer);
        anchor2.anchor(root, leafCount);
    }

    /// @dev The one-leaf root of the commissioning event `(0, eventHash, salt)`.
    function _leafRoot(bytes32 eventHash, bytes32 salt) internal view returns (bytes32) {
        return anchor2.leafHash(0, eventHash, salt);
    }

    // ---------------------------------------------------------------- trees (sorted pairs, as MerkleProof)

    /// @dev Root and proofs of the two-leaf tree (a, b).
    function _tree2(bytes32 a, bytes32 b)
        internal
        pure
        returns (bytes32 root, bytes32[] memory proofA, bytes32[] memory proofB)
    {
        root = Hashes.commutativeKeccak256(a, b);
        proofA = _path1(b);
        proofB = _path1(a);
    }

    /// @dev Root and proofs of the three-leaf tree ((a, b), c).
    function _tree3(bytes32 a, bytes32 b, bytes32 c) internal pure returns (bytes32 root, bytes32[][] memory proofs) {
        bytes32 ab = Hashes.commutativeKeccak256(a, b);
        root = Hashes.commutativeKeccak256(ab, c);
        proofs = new bytes32[][](3);
        proofs[0] = _path2(b, c);
        proofs[1] = _path2(a, c);
        proofs[2] = _path1(ab);
    }

    function _path1(bytes32 a) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = a;
    }

    function _path2(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        (p[0], p[1]) = (a, b);
    }
}
