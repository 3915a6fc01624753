// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITraceAnchorV2} from "../../contracts/interfaces/ITraceAnchorV2.sol";
import {TraceAnchorV2Handler} from "./utils/TraceAnchorV2Handler.sol";
import {TraceAnchorV2TestBase} from "./utils/TraceAnchorV2TestBase.sol";

/// @dev Whatever sequence of registrations (often nesting), revocations, compromises, anchorings
/// and endorsements happens, prefixes never nest and map back to their brands, a root signed in a
/// compromised range counts only through an endorsement, and platform roots never count.
abstract contract TraceAnchorV2InvariantBase is TraceAnchorV2TestBase {
    TraceAnchorV2Handler internal handler;

    function setUp() public virtual override {
        super.setUp();
        handler = new TraceAnchorV2Handler(anchor2, admin, anchorer, registrar);
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: _actions()}));
    }

    function _actions() internal pure returns (bytes4[] memory actions) {
        actions = new bytes4[](9);
        actions[0] = TraceAnchorV2Handler.registerBrand.selector;
        actions[1] = TraceAnchorV2Handler.revokeBrand.selector;
        actions[2] = TraceAnchorV2Handler.markCompromised.selector;
        actions[3] = TraceAnchorV2Handler.anchorCommissioning.selector;
        actions[4] = TraceAnchorV2Handler.anchorAsDisabledBrand.selector;
        actions[5] = TraceAnchorV2Handler.anchorPlatform.selector;
        actions[6] = TraceAnchorV2Handler.endorseRoot.selector;
        actions[7] = TraceAnchorV2Handler.warp.selector;
        actions[8] = TraceAnchorV2Handler.replaceKey.selector;
    }

    /// @dev No registered prefix starts with another, and none is registered twice.
    function _checkNoNesting() internal view {
        uint256 n = handler.prefixCount();
        for (uint256 i = 0; i < n; ++i) {
            string memory a = handler.prefixes(i);
            for (uint256 j = i + 1; j < n; ++j) {
                string memory b = handler.prefixes(j);
                assertFalse(handler.startsWith(a, b) || handler.startsWith(b, a), "nested prefixes");
                assertTrue(keccak256(bytes(a)) != keccak256(bytes(b)), "prefix listed twice");
            }
        }
    }

    /// @dev brandOf(prefix) is its last registered brand, whose prefixOf is the prefix, and which
    /// brandOfGtin finds; every registered brand keeps its prefix.
    function _checkPrefixMaps() internal view {
        for (uint256 i = 0; i < handler.prefixCount(); ++i) {
            string memory prefix = handler.prefixes(i);
            address holder = anchor2.brandOf(prefix);
            assertEq(holder, handler.ghostHolder(prefix), "brandOf");
            assertTrue(holder != address(0), "registered prefix without brand");
            assertEq(anchor2.prefixOf(holder), prefix, "prefixOf(brandOf(prefix))");
            assertEq(anchor2.brandOfGtin(_gtinOf(prefix)), holder, "brandOfGtin");
        }
        for (uint256 i = 0; i < handler.brandCount(); ++i) {
            address account = handler.brands(i);
            string memory prefix = anchor2.prefixOf(account);
            assertEq(prefix, handler.ghostPrefix(account), "prefixOf");
            address holder = anchor2.brandOf(prefix);
            assertTrue(holder == account || anchor2.brandRevokedAt(account) != 0, "a live brand lost its prefix");
            assertEq(anchor2.brandRevokedAt(account) != 0, handler.ghostRevoked(account), "brandRevokedAt");
            assertEq(anchor2.compromisedSince(account), handler.ghostCompromisedSince(account), "compromisedSince");
        }
    }

    /// @dev A brand root is confirmed exactly when its signer signed before its compromisedSince,
    /// or else an endorser (the signer's prefix's later holder) did before its own; so a root
    /// anchored at or after the signer's compromisedSince is confirmed only through an endorsement.
    function _checkBrandRoots() internal view {
        for (uint256 i = 0; i < handler.brandRootCount(); ++i) {
            bytes32 root = handler.brandRoots(i);
            ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(root);
            uint64 since = anchor2.compromisedSince(info.brand);
            assertEq(info.brandCompromisedSince, since, "brandCompromisedSince");
            assertEq(info.brandRevokedAt, anchor2.brandRevokedAt(info.brand), "brandRevokedAt");
            assertEq(info.endorsedBy, handler.ghostEndorser(root), "endorsedBy");
            bool bySigner = since == 0 || info.anchoredAt < since;
            bool byEndorser;
            if (info.endorsedBy != address(0)) {
                assertTrue(info.endorsedBy != info.brand, "endorsed by its own signer");
                assertEq(anchor2.prefixOf(info.endorsedBy), anchor2.prefixOf(info.brand), "endorser of another prefix");
                uint64 endorserSince = anchor2.compromisedSince(info.endorsedBy);
                byEndorser = endorserSince == 0 || info.endorsedAt < endorserSince;
            }
            assertEq(info.brandConfirmed, bySigner || byEndorser, "brandConfirmed");
            if (!bySigner) assertTrue(!info.brandConfirmed || info.endorsedBy != address(0), "compromised range");
            string memory gtin = _gtinOf(anchor2.prefixOf(info.brand));
            bool verified = anchor2.verifyBrandConfirmed(
                gtin, 0, handler.rootEvent(root), handler.rootSalt(root), new bytes32[](0)
            );
            assertEq(verified, info.brandConfirmed, "verifyBrandConfirmed");
        }
    }

    /// @dev Platform roots verify but are never confirmed by a brand, for no GTIN.
    function _checkPlatformRoots() internal view {
        for (uint256 i = 0; i < handler.platformRootCount(); ++i) {
            bytes32 root = handler.platformRoots(i);
            ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(root);
            assertFalse(info.brandConfirmed, "platform root confirmed");
            assertEq(info.brand, address(0));
            assertEq(info.endorsedBy, address(0));
            assertEq(info.brandRevokedAt, 0);
            assertEq(info.brandCompromisedSince, 0);
            (bytes32 eventHash, bytes32 salt) = (handler.rootEvent(root), handler.rootSalt(root));
            assertTrue(anchor2.verify(0, eventHash, salt, new bytes32[](0)));
            for (uint256 j = 0; j < handler.prefixCount(); ++j) {
                string memory gtin = _gtinOf(handler.prefixes(j));
                assertFalse(anchor2.verifyBrandConfirmed(gtin, 0, eventHash, salt, new bytes32[](0)));
            }
        }
    }
}

contract TraceAnchorV2InvariantTest is TraceAnchorV2InvariantBase {
    /// @dev No two registered prefixes nest (a GTIN belongs to one brand at most).
    function invariant_prefixesNeverNest() public view {
        _checkNoNesting();
    }

    /// @dev Every prefix maps to its brand and back; every brand keeps its prefix.
    function invariant_prefixesMapToTheirBrands() public view {
        _checkPrefixMaps();
    }

    /// @dev A brand root in its signer's compromised range is confirmed only through an endorsement.
    function invariant_compromisedRangeConfirmedOnlyByEndorsement() public view {
        _checkBrandRoots();
    }

    /// @dev Platform roots are never confirmed by a brand.
    function invariant_platformRootsNeverConfirmed() public view {
        _checkPlatformRoots();
    }
}

/// @dev One scripted walk through every action with the handler's bounded inputs (ghost coverage,
/// so no invariant holds vacuously).
contract TraceAnchorV2HandlerCoverageTest is TraceAnchorV2InvariantBase {
    function test_handler_reachesEveryAction() public {
        // digitsSeed bits give the digits (0 or 1); lengthSeed 6..12.
        handler.registerBrand(0, 0x2, 7); // 0100000
        handler.registerBrand(1, 0x2, 8); // 01000000: nests, refused
        handler.registerBrand(1, 0x2, 6); // 010000: nests, refused
        handler.registerBrand(1, 0x5, 7); // 1010000
        handler.registerBrand(2, 0x3, 12); // 110000000000
        assertEq(handler.refusedNested(), 2);
        assertEq(handler.brandCount(), 3);

        handler.anchorCommissioning(0); // brand 0, confirmed
        handler.anchorPlatform();
        handler.warp(1 hours);
        handler.anchorCommissioning(0); // brand 0, in the compromised range below
        handler.anchorCommissioning(1);
        handler.warp(1 hours);
        handler.markCompromised(0, START_TIME + 1 hours); // brand 0
        assertEq(anchor2.compromisedSince(handler.brands(0)), START_TIME + 1 hours);
        handler.anchorAsDisabledBrand(0);
        handler.revokeBrand(0); // brand 0
        handler.registerBrand(3, 0, 0); // prefixes[0] % 4 == 0: brand 0's prefix goes to a new account
        assertEq(handler.brandCount(), 4);
        assertEq(handler.ghostHolder(handler.prefixes(0)), handler.brands(3));
        handler.endorseRoot(0); // root 0 (confirmed anyway)
        handler.endorseRoot(0); // root 1 (in brand 0's compromised range)
        handler.replaceKey(1, START_TIME + 1 hours, 4); // brand 1's prefix goes to account 4
        handler.endorseRoot(2); // root 2 (in brand 1's compromised range)
        handler.warp(1 hours);
        handler.anchorCommissioning(1);

        bytes4[] memory actions = _actions();
        for (uint256 i = 0; i < actions.length; ++i) {
            if (actions[i] == TraceAnchorV2Handler.anchorAsDisabledBrand.selector) continue;
            assertGt(handler.applied(actions[i]), 0, "an action never got past its guard");
        }
        assertGt(handler.refusedAnchorings(), 0, "no refused anchoring");
        bytes32 compromisedRoot = handler.brandRoots(1);
        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(compromisedRoot);
        assertEq(info.endorsedBy, handler.brands(3));
        assertTrue(info.brandConfirmed, "a compromised-range root confirmed through its endorsement");
        assertTrue(anchor2.rootInfo(handler.brandRoots(0)).brandConfirmed);
        info = anchor2.rootInfo(handler.brandRoots(2));
        assertEq(info.brandCompromisedSince, START_TIME + 1 hours);
        assertEq(info.endorsedBy, handler.brands(4));
        assertTrue(info.brandConfirmed);
        _checkNoNesting();
        _checkPrefixMaps();
        _checkBrandRoots();
        _checkPlatformRoots();
    }
}
