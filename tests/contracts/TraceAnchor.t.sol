// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TraceAnchor} from "../../contracts/TraceAnchor.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {ChaintraceTest} from "./utils/ChaintraceTest.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";

/// @dev Roles, brand registration, and both ways of anchoring a root.
contract TraceAnchorTest is ChaintraceTest {
    string internal constant PREFIX = "0614141";
    bytes32 internal constant ROOT = keccak256("root");

    function _commissioningSig(uint256 key, address account, bytes32 root, uint32 leafCount)
        internal
        view
        returns (bytes memory)
    {
        return _sign(key, traceAnchor.commissioningDigest(account, root, leafCount));
    }

    function test_constructor_grantsRoles() public view {
        assertTrue(traceAnchor.hasRole(traceAnchor.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(traceAnchor.hasRole(traceAnchor.ANCHORER_ROLE(), anchorer));
        assertFalse(traceAnchor.hasRole(traceAnchor.ANCHORER_ROLE(), admin));
        assertEq(traceAnchor.ANCHORER_ROLE(), keccak256("ANCHORER_ROLE"));
    }

    function test_grantRole_anchorerRevertsIfNotAdmin() public {
        bytes32 adminRole = traceAnchor.DEFAULT_ADMIN_ROLE();
        bytes32 anchorerRole = traceAnchor.ANCHORER_ROLE();
        vm.prank(anchorer);
        vm.expectRevert(_unauthorized(anchorer, adminRole));
        traceAnchor.grantRole(anchorerRole, stranger);
    }

    // ---------------------------------------------------------------- registerBrand

    function test_registerBrand_recordsBothDirections() public {
        vm.expectEmit(address(traceAnchor));
        emit ITraceAnchor.BrandRegistered(brand, PREFIX);
        _registerBrand(brand, PREFIX);
        assertEq(traceAnchor.brandOf(PREFIX), brand);
        assertEq(traceAnchor.prefixOf(brand), PREFIX);
        assertEq(traceAnchor.brandOf("0614142"), address(0));
        assertEq(traceAnchor.prefixOf(stranger), "");
    }

    function test_registerBrand_acceptsShortestAndLongestPrefix() public {
        _registerBrand(brand, "000000");
        _registerBrand(stranger, "999999999999");
        assertEq(traceAnchor.brandOf("000000"), brand);
        assertEq(traceAnchor.brandOf("999999999999"), stranger);
    }

    function test_registerBrand_revertsIfNotAdmin() public {
        bytes32 role = traceAnchor.DEFAULT_ADMIN_ROLE();
        vm.prank(anchorer);
        vm.expectRevert(_unauthorized(anchorer, role));
        traceAnchor.registerBrand(brand, PREFIX);
    }

    function test_registerBrand_revertsOnZeroBrand() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidBrand.selector, address(0)));
        traceAnchor.registerBrand(address(0), PREFIX);
    }

    function test_registerBrand_revertsOnInvalidPrefix() public {
        string[6] memory bad = ["", "12345", "1234567890123", "06141a1", "061 414", unicode"０６１４１４１"];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.prank(admin);
            vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidPrefix.selector, bad[i]));
            traceAnchor.registerBrand(brand, bad[i]);
        }
    }

    function testFuzz_registerBrand_revertsOnNonDigit(uint8 position, bytes1 character) public {
        vm.assume(character < "0" || character > "9");
        bytes memory prefix = bytes("061414100000");
        prefix[bound(position, 0, prefix.length - 1)] = character;
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidPrefix.selector, string(prefix)));
        traceAnchor.registerBrand(brand, string(prefix));
    }

    function test_registerBrand_revertsIfPrefixTaken() public {
        _registerBrand(brand, PREFIX);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorPrefixRegistered.selector, PREFIX, brand));
        traceAnchor.registerBrand(stranger, PREFIX);
    }

    function test_registerBrand_revertsIfBrandHasPrefix() public {
        _registerBrand(brand, PREFIX);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorBrandRegistered.selector, brand, PREFIX));
        traceAnchor.registerBrand(brand, "0614142");
    }

    // ---------------------------------------------------------------- anchor

    function test_anchor_recordsRootInfo() public {
        vm.roll(1234);
        vm.expectEmit(address(traceAnchor));
        emit ITraceAnchor.RootAnchored(ROOT, 1000, address(0));
        vm.prank(anchorer);
        traceAnchor.anchor(ROOT, 1000);

        ITraceAnchor.RootInfo memory info = traceAnchor.rootInfo(ROOT);
        assertEq(info.anchoredAt, START_TIME);
        assertEq(info.blockNumber, 1234);
        assertEq(info.leafCount, 1000);
        assertEq(info.brand, address(0));
    }

    function test_rootInfo_unknownRootIsZero() public view {
        ITraceAnchor.RootInfo memory info = traceAnchor.rootInfo(ROOT);
        assertEq(info.anchoredAt, 0);
        assertEq(info.leafCount, 0);
    }

    function test_anchor_revertsIfNotAnchorer() public {
        bytes32 role = traceAnchor.ANCHORER_ROLE();
        vm.prank(admin);
        vm.expectRevert(_unauthorized(admin, role));
        traceAnchor.anchor(ROOT, 1);
    }

    function test_anchor_revertsAfterRoleRevoked() public {
        bytes32 role = traceAnchor.ANCHORER_ROLE();
        vm.prank(admin);
        traceAnchor.revokeRole(role, anchorer);
        vm.prank(anchorer);
        vm.expectRevert(_unauthorized(anchorer, role));
        traceAnchor.anchor(ROOT, 1);
    }

    function test_anchor_revertsOnZeroRoot() public {
        vm.prank(anchorer);
        vm.expectRevert(ITraceAnchor.AnchorZeroRoot.selector);
        traceAnchor.anchor(bytes32(0), 1);
    }

    function test_anchor_revertsOnZeroLeafCount() public {
        vm.prank(anchorer);
        vm.expectRevert(ITraceAnchor.AnchorZeroLeafCount.selector);
        traceAnchor.anchor(ROOT, 0);
    }

    function test_anchor_revertsOnExistingRoot() public {
        vm.startPrank(anchorer);
        traceAnchor.anchor(ROOT, 3);
        vm.warp(START_TIME + 60);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorRootExists.selector, ROOT));
        traceAnchor.anchor(ROOT, 4);
        vm.stopPrank();
        assertEq(traceAnchor.rootInfo(ROOT).anchoredAt, START_TIME, "first anchoring is kept");
    }

    // ---------------------------------------------------------------- anchorCommissioning

    function test_anchorCommissioning_recordsBrand() public {
        _registerBrand(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectEmit(address(traceAnchor));
        emit ITraceAnchor.RootAnchored(ROOT, 50, brand);
        vm.prank(stranger); // any relayer: the brand's signature is the authorization
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);

        ITraceAnchor.RootInfo memory info = traceAnchor.rootInfo(ROOT);
        assertEq(info.brand, brand);
        assertEq(info.leafCount, 50);
        assertEq(info.anchoredAt, START_TIME);
    }

    function test_anchorCommissioning_acceptsErc1271Brand() public {
        ERC1271Wallet wallet = new ERC1271Wallet(brand);
        _registerBrand(address(wallet), PREFIX);
        traceAnchor.anchorCommissioning(
            ROOT, 50, address(wallet), _commissioningSig(brandKey, address(wallet), ROOT, 50)
        );
        assertEq(traceAnchor.rootInfo(ROOT).brand, address(wallet));
    }

    function test_anchorCommissioning_revertsOnUnknownBrand() public {
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorUnknownBrand.selector, brand));
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnOtherSigner() public {
        _registerBrand(brand, PREFIX);
        bytes memory sig = _commissioningSig(payeeKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidSignature.selector, brand));
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnAlteredLeafCount() public {
        _registerBrand(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidSignature.selector, brand));
        traceAnchor.anchorCommissioning(ROOT, 51, brand, sig);
    }

    function test_anchorCommissioning_revertsOnSignatureForOtherDeployment() public {
        TraceAnchor other = new TraceAnchor(admin, anchorer);
        _registerBrand(brand, PREFIX);
        bytes memory sig = _sign(brandKey, other.commissioningDigest(brand, ROOT, 50));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidSignature.selector, brand));
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnMalformedSignature() public {
        _registerBrand(brand, PREFIX);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorInvalidSignature.selector, brand));
        traceAnchor.anchorCommissioning(ROOT, 50, brand, hex"00");
    }

    function test_anchorCommissioning_revertsOnReplay() public {
        _registerBrand(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorRootExists.selector, ROOT));
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnRootAnchoredByPlatform() public {
        _registerBrand(brand, PREFIX);
        vm.prank(anchorer);
        traceAnchor.anchor(ROOT, 50);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 50);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchor.AnchorRootExists.selector, ROOT));
        traceAnchor.anchorCommissioning(ROOT, 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnZeroRoot() public {
        _registerBrand(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, bytes32(0), 50);
        vm.expectRevert(ITraceAnchor.AnchorZeroRoot.selector);
        traceAnchor.anchorCommissioning(bytes32(0), 50, brand, sig);
    }

    function test_anchorCommissioning_revertsOnZeroLeafCount() public {
        _registerBrand(brand, PREFIX);
        bytes memory sig = _commissioningSig(brandKey, brand, ROOT, 0);
        vm.expectRevert(ITraceAnchor.AnchorZeroLeafCount.selector);
        traceAnchor.anchorCommissioning(ROOT, 0, brand, sig);
    }
}
