// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {ChaintraceTest} from "./utils/ChaintraceTest.sol";

/// @dev Revoking a brand: no new commissioning roots, old ones stay verifiable and flagged.
contract TraceAnchorRevocationTest is ChaintraceTest {
    string internal constant PREFIX = "0614141";
    bytes32 internal constant EVENT_HASH = keccak256("event");
    bytes32 internal constant SALT = keccak256("salt");

    function _registerBrand(address account) internal {
        vm.prank(admin);
        traceAnchor.registerBrand(account, PREFIX);
    }

    /// @dev Commissions the one-leaf root of (0, EVENT_HASH, SALT + n) signed by `key` for `account`.
    function _commission(uint256 key, address account, uint256 n) internal returns (bytes32 root) {
        root = traceAnchor.leafHash(0, EVENT_HASH, bytes32(uint256(SALT) + n));
        bytes memory sig = _sign(key, traceAnchor.commissioningDigest(account, root, 1));
        traceAnchor.anchorCommissioning(root, 1, account, sig);
    }

    function test_revokeBrand_recordsTimeAndEmits() public {
        _registerBrand(brand);
        vm.warp(START_TIME + 1 days);
        vm.expectEmit(address(traceAnchor));
        emit ITraceAnchor.BrandRevoked(brand, PREFIX);
        vm.prank(admin);
        traceAnchor.revokeBrand(brand);
        assertEq(traceAnchor.brandRevokedAt(brand), START_TIME + 1 days);
        assertEq(traceAnchor.brandRevokedAt(stranger), 0);
        // The brand keeps its prefix record (its old roots are still its own).
        assertEq(traceAnchor.prefixOf(brand), PREFIX);
    }

    function test_revokeBrand_revertsIfNotAdmin() public {
        _registerBrand(brand);
        bytes32 adminRole = traceAnchor.DEFAULT_ADMIN_ROLE();
        vm.prank(brand);
        vm.expectRevert(_unauthorized(brand, adminRole));
        traceAnchor.revokeBrand(brand);
    }

    function test_revokeBrand_revertsOnUnknownBrand() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorUnknownBrand.selector, stranger));
        traceAnchor.revokeBrand(stranger);
    }

    function test_revokeBrand_revertsWhenRevokedTwice() public {
        _registerBrand(brand);
        vm.startPrank(admin);
        traceAnchor.revokeBrand(brand);
        vm.warp(START_TIME + 5);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorBrandRevoked.selector, brand, START_TIME));
        traceAnchor.revokeBrand(brand);
        vm.stopPrank();
    }

    function test_anchorCommissioning_revertsAfterRevocation() public {
        _registerBrand(brand);
        vm.prank(admin);
        traceAnchor.revokeBrand(brand);
        bytes32 root = traceAnchor.leafHash(0, EVENT_HASH, SALT);
        bytes memory sig = _sign(brandKey, traceAnchor.commissioningDigest(brand, root, 1));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorBrandRevoked.selector, brand, START_TIME));
        traceAnchor.anchorCommissioning(root, 1, brand, sig);
    }

    function test_rootsBeforeRevocation_stayVerifiableAndFlagged() public {
        _registerBrand(brand);
        bytes32 root = _commission(brandKey, brand, 0);
        assertEq(traceAnchor.rootInfo(root).brandRevokedAt, 0);
        vm.warp(START_TIME + 1 hours);
        vm.prank(admin);
        traceAnchor.revokeBrand(brand);

        ITraceAnchor.RootInfo memory info = traceAnchor.rootInfo(root);
        assertEq(info.brand, brand);
        assertEq(info.anchoredAt, START_TIME);
        assertEq(info.brandRevokedAt, START_TIME + 1 hours);
        assertTrue(traceAnchor.verify(0, EVENT_HASH, SALT, new bytes32[](0)));
        assertTrue(traceAnchor.verifyAgainst(root, 0, EVENT_HASH, SALT, new bytes32[](0)));
    }

    function test_rootInfo_platformRootsAreNeverFlagged() public {
        bytes32 root = keccak256("platform");
        vm.prank(anchorer);
        traceAnchor.anchor(root, 3);
        assertEq(traceAnchor.rootInfo(root).brandRevokedAt, 0);
        assertEq(traceAnchor.rootInfo(root).brand, address(0));
    }

    function test_registerBrand_prefixOfRevokedBrandGoesToNewKey() public {
        _registerBrand(brand);
        bytes32 oldRoot = _commission(brandKey, brand, 0);
        vm.prank(admin);
        traceAnchor.revokeBrand(brand);
        (address newBrand, uint256 newKey) = makeAddrAndKey("brand-new-key");
        _registerBrand(newBrand);

        assertEq(traceAnchor.brandOf(PREFIX), newBrand);
        bytes32 newRoot = _commission(newKey, newBrand, 1);
        assertEq(traceAnchor.rootInfo(newRoot).brandRevokedAt, 0);
        assertEq(traceAnchor.rootInfo(oldRoot).brand, brand);
        assertEq(traceAnchor.rootInfo(oldRoot).brandRevokedAt, START_TIME);
    }

    function test_registerBrand_revokedAccountCannotRegisterAgain() public {
        _registerBrand(brand);
        vm.startPrank(admin);
        traceAnchor.revokeBrand(brand);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorBrandRegistered.selector, brand, PREFIX));
        traceAnchor.registerBrand(brand, "0614142");
        vm.stopPrank();
    }

    function test_registerBrand_liveBrandsPrefixStaysTaken() public {
        _registerBrand(brand);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorPrefixRegistered.selector, PREFIX, brand));
        traceAnchor.registerBrand(stranger, PREFIX);
    }
}
