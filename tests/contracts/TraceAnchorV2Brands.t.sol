// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITraceAnchorV2} from "../../contracts/interfaces/ITraceAnchorV2.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {TraceAnchorV2TestBase} from "./utils/TraceAnchorV2TestBase.sol";

/// @dev Brands' standing in TraceAnchor v2: prefixes (never nested), revocation, compromise, and
/// what a root is then worth (brandConfirmed, endorseRoot, verifyBrandConfirmed).
contract TraceAnchorV2BrandsTest is TraceAnchorV2TestBase {
    bytes32 internal constant EVENT_HASH = keccak256("commissioning event");
    bytes32 internal constant SALT = keccak256("salt");
    string internal constant OTHER_PREFIX = "0614142";
    string internal constant OTHER_GTIN = "10614142000412";

    address internal brand3;
    uint256 internal brand3Key;

    function setUp() public override {
        super.setUp();
        (brand3, brand3Key) = makeAddrAndKey("brand3");
    }

    /// @dev Commissions the one-leaf root of `(0, EVENT_HASH, SALT + n)`, signed by `account`.
    function _commissionLeaf(uint256 key, address account, uint256 n) internal returns (bytes32 root) {
        root = _leafRoot(EVENT_HASH, _salt(n));
        _commission(key, account, root, 1);
    }

    function _salt(uint256 n) internal pure returns (bytes32) {
        return bytes32(uint256(SALT) + n);
    }

    function _confirmed(bytes32 root) internal view returns (bool) {
        return anchor2.rootInfo(root).brandConfirmed;
    }

    function _confirmedFor(string memory gtin, uint256 n) internal view returns (bool) {
        return anchor2.verifyBrandConfirmed(gtin, 0, EVENT_HASH, _salt(n), new bytes32[](0));
    }

    /// @dev brand signs root 0 at START_TIME, is compromised from then on, revoked, and brand2
    /// takes the prefix an hour later.
    function _compromiseAndReplace() internal returns (bytes32 root) {
        _register(brand, PREFIX);
        root = _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + 1 hours);
        _markCompromised(brand, uint64(START_TIME));
        _revoke(brand);
        _register(brand2, PREFIX);
    }

    // ---------------------------------------------------------------- registerBrand

    function test_registerBrand_recordsBothDirections() public {
        _register(brand, PREFIX);
        assertEq(anchor2.brandOf(PREFIX), brand);
        assertEq(anchor2.prefixOf(brand), PREFIX);
        assertEq(anchor2.brandOf(OTHER_PREFIX), address(0));
        assertEq(anchor2.prefixOf(stranger), "");
    }

    function test_registerBrand_acceptsShortestAndLongestPrefix() public {
        _register(brand, "000000");
        _register(brand2, "999999999999");
        assertEq(anchor2.brandOf("000000"), brand);
        assertEq(anchor2.brandOf("999999999999"), brand2);
    }

    function test_registerBrand_revertsOnZeroBrand() public {
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidBrand.selector, address(0)));
        anchor2.registerBrand(address(0), PREFIX);
    }

    function test_registerBrand_revertsOnInvalidPrefix() public {
        string[6] memory bad = ["", "12345", "1234567890123", "06141a1", "061 414", unicode"０６１４１４１"];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.prank(registrar);
            vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidPrefix.selector, bad[i]));
            anchor2.registerBrand(brand, bad[i]);
        }
    }

    function testFuzz_registerBrand_revertsOnNonDigit(uint8 position, bytes1 character) public {
        vm.assume(character < "0" || character > "9");
        bytes memory prefix = bytes("061414100000");
        prefix[bound(position, 0, prefix.length - 1)] = character;
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidPrefix.selector, string(prefix)));
        anchor2.registerBrand(brand, string(prefix));
    }

    function test_registerBrand_revertsIfPrefixTaken() public {
        _register(brand, PREFIX);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixRegistered.selector, PREFIX, brand));
        anchor2.registerBrand(brand2, PREFIX);
    }

    function test_registerBrand_revertsIfPrefixTakenByCompromisedBrand() public {
        // Compromised but not revoked: the prefix does not move until the admin revokes.
        _register(brand, PREFIX);
        _markCompromised(brand, uint64(START_TIME));
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixRegistered.selector, PREFIX, brand));
        anchor2.registerBrand(brand2, PREFIX);
    }

    function test_registerBrand_revertsIfBrandHasPrefix() public {
        _register(brand, PREFIX);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandRegistered.selector, brand, PREFIX));
        anchor2.registerBrand(brand, OTHER_PREFIX);
    }

    function test_registerBrand_revokedAccountCannotRegisterAgain() public {
        _register(brand, PREFIX);
        _revoke(brand);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandRegistered.selector, brand, PREFIX));
        anchor2.registerBrand(brand, OTHER_PREFIX);
    }

    function test_registerBrand_refusesLongerPrefixOfRegistered() public {
        _register(brand, "0614141");
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "06141410", "0614141"));
        anchor2.registerBrand(brand2, "06141410");
    }

    function test_registerBrand_refusesShorterPrefixOfRegistered() public {
        _register(brand, "06141410");
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "0614141", ""));
        anchor2.registerBrand(brand2, "0614141");
    }

    function test_registerBrand_refusesNestedAfterShorterRevoked() public {
        _register(brand, "0614141");
        _revoke(brand);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "06141410", "0614141"));
        anchor2.registerBrand(brand2, "06141410");
    }

    function test_registerBrand_refusesNestedAfterLongerRevoked() public {
        _register(brand, "06141410");
        _revoke(brand);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "0614141", ""));
        anchor2.registerBrand(brand2, "0614141");
    }

    function test_registerBrand_refusesNestingAtEveryLength() public {
        _register(brand, "123456");
        vm.startPrank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "123456789012", "123456"));
        anchor2.registerBrand(brand2, "123456789012");
        anchor2.registerBrand(brand2, "654321098765");
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "654321", ""));
        anchor2.registerBrand(brand3, "654321");
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "65432109876", ""));
        anchor2.registerBrand(brand3, "65432109876");
        vm.stopPrank();
    }

    function test_registerBrand_siblingPrefixesDoNotNest() public {
        _register(brand, "0614141");
        _register(brand2, "0614142");
        _register(brand3, "06141430");
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, "061414", ""));
        anchor2.registerBrand(stranger, "061414");
    }

    function testFuzz_registerBrand_refusesNestingEitherOrder(
        uint64 digits,
        uint8 shortLength,
        uint8 extra,
        bool longerFirst
    ) public {
        shortLength = uint8(bound(shortLength, 6, 11));
        extra = uint8(bound(extra, 1, 12 - shortLength));
        string memory longer = vm.toString(uint256(digits) % 1e12 + 1e12); // 13 digits, the first is 1
        longer = string(_slice(bytes(longer), 1, 1 + shortLength + extra));
        string memory shorter = string(_slice(bytes(longer), 0, shortLength));
        (string memory first, string memory second) = longerFirst ? (longer, shorter) : (shorter, longer);

        _register(brand, first);
        _revoke(brand); // revocation frees the prefix itself, never the ones nesting with it
        vm.prank(registrar);
        string memory registered = longerFirst ? string("") : shorter; // empty: a longer one starts with it
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPrefixNested.selector, second, registered));
        anchor2.registerBrand(brand2, second);
        _register(brand2, first);
        assertEq(anchor2.brandOf(first), brand2);
    }

    function _slice(bytes memory data, uint256 start, uint256 end) internal pure returns (bytes memory out) {
        out = new bytes(end - start);
        for (uint256 i = start; i < end; ++i) {
            out[i - start] = data[i];
        }
    }

    function test_registerBrand_revokedPrefixGoesToNewAccount() public {
        _register(brand, PREFIX);
        bytes32 oldRoot = _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + 1 days);
        _revoke(brand);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.BrandRegistered(brand2, PREFIX);
        _register(brand2, PREFIX);

        assertEq(anchor2.brandOf(PREFIX), brand2);
        assertEq(anchor2.prefixOf(brand2), PREFIX);
        assertEq(anchor2.prefixOf(brand), PREFIX, "the old account keeps its record");
        assertEq(anchor2.brandOfGtin(GTIN), brand2);
        bytes32 newRoot = _commissionLeaf(brand2Key, brand2, 1);
        assertTrue(_confirmed(newRoot));
        assertTrue(_confirmed(oldRoot), "revocation alone does not unconfirm earlier roots");
        assertEq(anchor2.rootInfo(oldRoot).brandRevokedAt, START_TIME + 1 days);
        assertEq(anchor2.rootInfo(newRoot).brandRevokedAt, 0);

        // ... and on again once the new holder is revoked in turn.
        _revoke(brand2);
        _register(brand3, PREFIX);
        assertEq(anchor2.brandOf(PREFIX), brand3);
    }

    // ---------------------------------------------------------------- revokeBrand

    function test_revokeBrand_recordsTimeAndEmits() public {
        _register(brand, PREFIX);
        vm.warp(START_TIME + 1 days);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.BrandRevoked(brand, PREFIX);
        _revoke(brand);
        assertEq(anchor2.brandRevokedAt(brand), START_TIME + 1 days);
        assertEq(anchor2.brandRevokedAt(stranger), 0);
        assertEq(anchor2.brandOf(PREFIX), brand, "a revoked brand holds its prefix until it moves");
    }

    function test_revokeBrand_revertsOnUnknownBrand() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorUnknownBrand.selector, stranger));
        anchor2.revokeBrand(stranger);
    }

    function test_revokeBrand_revertsWhenRevokedTwice() public {
        _register(brand, PREFIX);
        _revoke(brand);
        vm.warp(START_TIME + 5);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandRevoked.selector, brand, START_TIME));
        anchor2.revokeBrand(brand);
    }

    // ---------------------------------------------------------------- brandOfGtin

    function test_brandOfGtin_returnsHolderOfMatchingPrefix() public {
        _register(brand, PREFIX);
        _register(brand2, "123456");
        _register(brand3, "987654321098");
        assertEq(anchor2.brandOfGtin(GTIN), brand);
        assertEq(anchor2.brandOfGtin("00614141999999"), brand, "any indicator digit");
        assertEq(anchor2.brandOfGtin("11234560000001"), brand2);
        assertEq(anchor2.brandOfGtin("09876543210981"), brand3);
        assertEq(anchor2.brandOfGtin(OTHER_GTIN), address(0), "sibling prefix");
        assertEq(anchor2.brandOfGtin("10000000000000"), address(0));
        assertEq(anchor2.brandOfGtin("06141410000000"), address(0), "the prefix must follow the indicator digit");
    }

    function test_brandOfGtin_revokedHolderUntilPrefixMoves() public {
        _register(brand, PREFIX);
        _revoke(brand);
        assertEq(anchor2.brandOfGtin(GTIN), brand);
        _register(brand2, PREFIX);
        assertEq(anchor2.brandOfGtin(GTIN), brand2);
    }

    function test_brandOfGtin_revertsOnInvalidGtin() public {
        string[6] memory bad =
            ["", "1061414100041", "106141410004150", "1061414100041a", "1061414 000415", "-0614141000415"];
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidGtin.selector, bad[i]));
            anchor2.brandOfGtin(bad[i]);
        }
    }

    function testFuzz_brandOfGtin_matchesRegisteredPrefix(uint64 prefixSeed, uint8 length, uint64 rest) public {
        length = uint8(bound(length, 6, 12));
        string memory prefix = string(_slice(bytes(vm.toString(uint256(prefixSeed) % 1e12 + 1e12)), 1, 1 + length));
        string memory tail = string(_slice(bytes(vm.toString(uint256(rest) % 1e13 + 1e13)), 1, 14 - length));
        string memory gtin = string.concat("1", prefix, tail);
        assertEq(anchor2.brandOfGtin(gtin), address(0));
        _register(brand, prefix);
        assertEq(anchor2.brandOfGtin(gtin), brand);
        // Another digit anywhere in the prefix: no registered brand.
        bytes memory other = bytes(gtin);
        uint256 position = 1 + uint256(rest) % length;
        other[position] = other[position] == "9" ? bytes1("0") : bytes1(uint8(other[position]) + 1);
        assertEq(anchor2.brandOfGtin(string(other)), address(0));
    }

    // ---------------------------------------------------------------- markCompromised

    function test_markCompromised_recordsAndEmits() public {
        _register(brand, PREFIX);
        vm.warp(START_TIME + 1 days);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.BrandCompromised(brand, uint64(START_TIME + 1 hours));
        _markCompromised(brand, uint64(START_TIME + 1 hours));
        assertEq(anchor2.compromisedSince(brand), START_TIME + 1 hours);
        assertEq(anchor2.compromisedSince(stranger), 0);
    }

    function test_markCompromised_acceptsNow() public {
        _register(brand, PREFIX);
        _markCompromised(brand, uint64(block.timestamp));
        assertEq(anchor2.compromisedSince(brand), START_TIME);
    }

    function test_markCompromised_revertsOnZeroTime() public {
        _register(brand, PREFIX);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidCompromiseTime.selector, 0, 0));
        anchor2.markCompromised(brand, 0);
    }

    function test_markCompromised_revertsOnFutureTime() public {
        _register(brand, PREFIX);
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidCompromiseTime.selector, START_TIME + 1, 0));
        anchor2.markCompromised(brand, uint64(START_TIME + 1));
    }

    function test_markCompromised_mayOnlyMoveEarlier() public {
        _register(brand, PREFIX);
        vm.warp(START_TIME + 1 days);
        uint64 first = uint64(START_TIME + 1 hours);
        _markCompromised(brand, first);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidCompromiseTime.selector, first, first));
        anchor2.markCompromised(brand, first);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidCompromiseTime.selector, first + 1, first));
        anchor2.markCompromised(brand, first + 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidCompromiseTime.selector, 0, first));
        anchor2.markCompromised(brand, 0);
        anchor2.markCompromised(brand, first - 1);
        vm.stopPrank();
        assertEq(anchor2.compromisedSince(brand), first - 1);
    }

    function test_markCompromised_revertsOnUnknownBrand() public {
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorUnknownBrand.selector, stranger));
        anchor2.markCompromised(stranger, uint64(START_TIME));
    }

    function test_markCompromised_appliesToRevokedBrand() public {
        _register(brand, PREFIX);
        bytes32 root = _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + 1 days);
        _revoke(brand);
        assertTrue(_confirmed(root));
        _markCompromised(brand, uint64(START_TIME));
        assertFalse(_confirmed(root));
    }

    function testFuzz_markCompromised_onlyMovesEarlier(uint64 first, uint64 second) public {
        _register(brand, PREFIX);
        vm.warp(START_TIME + 365 days);
        first = uint64(bound(first, 1, block.timestamp));
        second = uint64(bound(second, 0, block.timestamp + 365 days));
        _markCompromised(brand, first);
        vm.prank(admin);
        if (second == 0 || second >= first) {
            vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidCompromiseTime.selector, second, first));
            anchor2.markCompromised(brand, second);
            assertEq(anchor2.compromisedSince(brand), first);
        } else {
            anchor2.markCompromised(brand, second);
            assertEq(anchor2.compromisedSince(brand), second);
        }
    }

    // ---------------------------------------------------------------- rootInfo.brandConfirmed

    function test_rootInfo_brandConfirmedOnlyBeforeCompromise() public {
        _register(brand, PREFIX);
        bytes32 before = _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + 1 hours);
        bytes32 at = _commissionLeaf(brandKey, brand, 1);
        vm.warp(START_TIME + 2 hours);
        bytes32 later = _commissionLeaf(brandKey, brand, 2);
        assertTrue(_confirmed(before) && _confirmed(at) && _confirmed(later));

        vm.warp(START_TIME + 3 hours);
        _markCompromised(brand, uint64(START_TIME + 1 hours));
        _revoke(brand);
        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(before);
        assertTrue(info.brandConfirmed, "anchored before compromisedSince");
        assertEq(info.brandCompromisedSince, START_TIME + 1 hours);
        assertEq(info.brandRevokedAt, START_TIME + 3 hours);
        info = anchor2.rootInfo(at);
        assertFalse(info.brandConfirmed, "anchored at compromisedSince");
        assertEq(info.brandCompromisedSince, START_TIME + 1 hours);
        assertEq(info.brandRevokedAt, START_TIME + 3 hours);
        assertFalse(_confirmed(later), "anchored after compromisedSince");
        assertEq(info.endorsedBy, address(0));
    }

    function test_rootInfo_platformRootNeverConfirmed() public {
        _register(brand, PREFIX);
        bytes32 root = _leafRoot(EVENT_HASH, SALT);
        _anchorPlatform(root, 1);
        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(root);
        assertFalse(info.brandConfirmed);
        assertEq(info.brand, address(0));
        assertEq(info.brandRevokedAt, 0);
        assertEq(info.brandCompromisedSince, 0);
        assertFalse(_confirmedFor(GTIN, 0));
        assertTrue(anchor2.verify(0, EVENT_HASH, SALT, new bytes32[](0)), "yet it verifies");
    }

    function testFuzz_rootInfo_brandConfirmedIffAnchoredBeforeCompromise(uint32 anchoredAfter, uint32 sinceAfter)
        public
    {
        _register(brand, PREFIX);
        vm.warp(START_TIME + anchoredAfter);
        bytes32 root = _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + uint256(type(uint32).max) + 1);
        uint64 since = uint64(START_TIME + uint256(sinceAfter));
        _markCompromised(brand, since);
        bool expected = START_TIME + uint256(anchoredAfter) < since;
        assertEq(_confirmed(root), expected);
        assertEq(_confirmedFor(GTIN, 0), expected);
    }

    // ---------------------------------------------------------------- endorseRoot

    function test_endorseRoot_newHolderRestoresConfirmation() public {
        bytes32 root = _compromiseAndReplace();
        assertFalse(_confirmed(root));
        assertFalse(_confirmedFor(GTIN, 0));

        bytes memory sig = _commissioningSig(brand2Key, brand2, root, 1);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.RootEndorsed(root, brand2);
        vm.prank(stranger);
        anchor2.endorseRoot(root, brand2, sig);

        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(root);
        assertTrue(info.brandConfirmed);
        assertEq(info.brand, brand, "the signer stays recorded");
        assertEq(info.endorsedBy, brand2);
        assertEq(info.endorsedAt, START_TIME + 1 hours);
        assertEq(info.brandCompromisedSince, START_TIME);
        assertEq(info.brandRevokedAt, START_TIME + 1 hours);
        assertTrue(_confirmedFor(GTIN, 0));
    }

    function test_endorseRoot_acceptsErc1271Holder() public {
        _register(brand, PREFIX);
        bytes32 root = _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + 1 hours);
        _markCompromised(brand, uint64(START_TIME));
        _revoke(brand);
        ERC1271Wallet wallet = new ERC1271Wallet(brand2);
        _register(address(wallet), PREFIX);
        _endorse(brand2Key, address(wallet), root);
        assertEq(anchor2.rootInfo(root).endorsedBy, address(wallet));
        assertTrue(_confirmed(root));
    }

    function test_endorseRoot_revertsOnUnknownRoot() public {
        _register(brand, PREFIX);
        bytes32 root = keccak256("never anchored");
        bytes memory sig = _commissioningSig(brandKey, brand, root, 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorUnknownRoot.selector, root));
        anchor2.endorseRoot(root, brand, sig);
    }

    function test_endorseRoot_revertsOnPlatformRoot() public {
        _register(brand, PREFIX);
        bytes32 root = keccak256("platform");
        _anchorPlatform(root, 4);
        bytes memory sig = _commissioningSig(brandKey, brand, root, 4);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorPlatformRoot.selector, root));
        anchor2.endorseRoot(root, brand, sig);
    }

    function test_endorseRoot_oncePerRoot() public {
        bytes32 root = _compromiseAndReplace();
        _endorse(brand2Key, brand2, root);
        bytes memory sig = _commissioningSig(brand2Key, brand2, root, 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorRootEndorsed.selector, root, brand2));
        anchor2.endorseRoot(root, brand2, sig);
    }

    function test_endorseRoot_refusesSignersOwnSignature() public {
        // The anchoring signature is a valid Commissioning signature of (brand, root, leafCount):
        // replayed through endorseRoot it must not use up the root's one endorsement.
        _register(brand, PREFIX);
        bytes32 root = _leafRoot(EVENT_HASH, SALT);
        bytes memory sig = _commissioningSig(brandKey, brand, root, 1);
        anchor2.anchorCommissioning(root, 1, brand, sig);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorRootEndorsed.selector, root, brand));
        anchor2.endorseRoot(root, brand, sig);
    }

    function test_endorseRoot_replayedAnchoringSignatureCannotBlockNewHolder() public {
        _register(brand, PREFIX);
        bytes32 root = _leafRoot(EVENT_HASH, SALT);
        bytes memory sig = _commissioningSig(brandKey, brand, root, 1);
        anchor2.anchorCommissioning(root, 1, brand, sig);
        vm.warp(START_TIME + 10 minutes);
        vm.prank(stranger);
        try anchor2.endorseRoot(root, brand, sig) {} catch {}

        // The key turns out to have been stolen from before the root; a new key takes over.
        vm.warp(START_TIME + 1 days);
        _markCompromised(brand, uint64(START_TIME));
        _revoke(brand);
        _register(brand2, PREFIX);
        _endorse(brand2Key, brand2, root);
        assertTrue(_confirmed(root));
        assertTrue(_confirmedFor(GTIN, 0));
    }

    function test_endorseRoot_revertsForHolderOfOtherPrefix() public {
        bytes32 root = _compromiseAndReplace();
        _register(brand3, OTHER_PREFIX);
        bytes memory sig = _commissioningSig(brand3Key, brand3, root, 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorNotPrefixHolder.selector, brand3, PREFIX));
        anchor2.endorseRoot(root, brand3, sig);
    }

    function test_endorseRoot_revertsForUnregisteredEndorser() public {
        bytes32 root = _compromiseAndReplace();
        bytes memory sig = _commissioningSig(brand3Key, brand3, root, 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorUnknownBrand.selector, brand3));
        anchor2.endorseRoot(root, brand3, sig);
    }

    function test_endorseRoot_revertsForRevokedHolder() public {
        bytes32 root = _compromiseAndReplace();
        vm.warp(START_TIME + 2 hours);
        _revoke(brand2);
        bytes memory sig = _commissioningSig(brand2Key, brand2, root, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandRevoked.selector, brand2, START_TIME + 2 hours)
        );
        anchor2.endorseRoot(root, brand2, sig);
        // Nor can the revoked original signer vouch for it.
        sig = _commissioningSig(brandKey, brand, root, 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandRevoked.selector, brand, START_TIME + 1 hours));
        anchor2.endorseRoot(root, brand, sig);
    }

    function test_endorseRoot_revertsForCompromisedHolder() public {
        bytes32 root = _compromiseAndReplace();
        _markCompromised(brand2, uint64(START_TIME + 1 hours));
        bytes memory sig = _commissioningSig(brand2Key, brand2, root, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITraceAnchorV2.AnchorBrandCompromised.selector, brand2, START_TIME + 1 hours)
        );
        anchor2.endorseRoot(root, brand2, sig);
    }

    function test_endorseRoot_revertsOnBadSignature() public {
        bytes32 root = _compromiseAndReplace();
        bytes memory wrongKey = _commissioningSig(brandKey, brand2, root, 1);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand2));
        anchor2.endorseRoot(root, brand2, wrongKey);
        bytes memory wrongCount = _commissioningSig(brand2Key, brand2, root, 2);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand2));
        anchor2.endorseRoot(root, brand2, wrongCount);
        bytes memory v1Domain = _sign(brand2Key, traceAnchor.commissioningDigest(brand2, root, 1));
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidSignature.selector, brand2));
        anchor2.endorseRoot(root, brand2, v1Domain);
    }

    function test_endorseRoot_endorsersLaterCompromiseUnconfirms() public {
        bytes32 root = _compromiseAndReplace(); // endorsed at START_TIME + 1 hours below
        _endorse(brand2Key, brand2, root);
        bytes32 other = _commissionLeaf(brand2Key, brand2, 1);
        vm.warp(START_TIME + 1 days);

        // A compromise of the endorser after its endorsement leaves the root confirmed ...
        _markCompromised(brand2, uint64(START_TIME + 1 hours + 1));
        assertTrue(_confirmed(root));
        assertTrue(_confirmed(other));
        // ... one from the endorsement on does not; then the prefix's next key may re-sign it.
        _markCompromised(brand2, uint64(START_TIME + 1 hours));
        ITraceAnchorV2.RootInfo memory info = anchor2.rootInfo(root);
        assertFalse(info.brandConfirmed);
        assertEq(info.endorsedBy, brand2);
        assertEq(info.brandCompromisedSince, START_TIME, "the signer's, not the endorser's");
        assertFalse(_confirmedFor(GTIN, 0));
        assertFalse(_confirmed(other));

        _revoke(brand2);
        _register(brand3, PREFIX);
        bytes memory sig = _commissioningSig(brand3Key, brand3, root, 1);
        vm.expectEmit(address(anchor2));
        emit ITraceAnchorV2.RootEndorsed(root, brand3);
        anchor2.endorseRoot(root, brand3, sig);
        info = anchor2.rootInfo(root);
        assertTrue(info.brandConfirmed);
        assertEq(info.endorsedBy, brand3);
        assertTrue(_confirmedFor(GTIN, 0));
        // A standing re-signature is not replaced.
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorRootEndorsed.selector, root, brand3));
        anchor2.endorseRoot(root, brand3, sig);
    }

    function test_endorseRoot_ofUncompromisedRootKeepsItConfirmed() public {
        _register(brand, PREFIX);
        bytes32 root = _commissionLeaf(brandKey, brand, 0);
        _revoke(brand);
        _register(brand2, PREFIX);
        _endorse(brand2Key, brand2, root);
        assertTrue(_confirmed(root));
        assertEq(anchor2.rootInfo(root).endorsedBy, brand2);
    }

    // ---------------------------------------------------------------- verifyBrandConfirmed

    function test_verifyBrandConfirmed_trueForEveryLeafOfConfirmedRoot() public {
        _register(brand, PREFIX);
        bytes32[3] memory hashes = [keccak256("item 1"), keccak256("item 2"), keccak256("item 3")];
        (bytes32 root, bytes32[][] memory proofs) = _tree3(
            anchor2.leafHash(0, hashes[0], SALT),
            anchor2.leafHash(0, hashes[1], SALT),
            anchor2.leafHash(3, hashes[2], SALT)
        );
        _commission(brandKey, brand, root, 3);
        assertTrue(anchor2.verifyBrandConfirmed(GTIN, 0, hashes[0], SALT, proofs[0]));
        assertTrue(anchor2.verifyBrandConfirmed(GTIN, 0, hashes[1], SALT, proofs[1]));
        assertTrue(anchor2.verifyBrandConfirmed(GTIN, 3, hashes[2], SALT, proofs[2]));
        assertTrue(anchor2.verifyBrandConfirmed("00614141999999", 0, hashes[0], SALT, proofs[0]));
        assertFalse(anchor2.verifyBrandConfirmed(GTIN, 0, hashes[0], SALT, proofs[1]), "tampered proof");
        assertFalse(anchor2.verifyBrandConfirmed(GTIN, 1, hashes[0], SALT, proofs[0]), "other kind");
    }

    function test_verifyBrandConfirmed_falseForGtinOfOtherPrefix() public {
        _register(brand, PREFIX);
        _register(brand2, OTHER_PREFIX);
        _commissionLeaf(brandKey, brand, 0);
        assertTrue(_confirmedFor(GTIN, 0));
        assertFalse(_confirmedFor(OTHER_GTIN, 0), "another brand's prefix");
        assertFalse(_confirmedFor("10614140000000", 0), "an unregistered prefix");
        assertFalse(_confirmedFor("16141410000000", 0), "the prefix without its indicator digit");
    }

    function test_verifyBrandConfirmed_falseForPlatformRoot() public {
        _register(brand, PREFIX);
        _anchorPlatform(_leafRoot(EVENT_HASH, _salt(0)), 1);
        assertTrue(anchor2.verify(0, EVENT_HASH, _salt(0), new bytes32[](0)));
        assertFalse(_confirmedFor(GTIN, 0));
    }

    function test_verifyBrandConfirmed_falseForCompromisedRange() public {
        _register(brand, PREFIX);
        _commissionLeaf(brandKey, brand, 0);
        vm.warp(START_TIME + 1 hours);
        _commissionLeaf(brandKey, brand, 1);
        vm.warp(START_TIME + 2 hours);
        _markCompromised(brand, uint64(START_TIME + 1 hours));
        assertTrue(_confirmedFor(GTIN, 0));
        assertFalse(_confirmedFor(GTIN, 1));
    }

    function test_verifyBrandConfirmed_keepsRootsOfRevokedAndReplacedBrand() public {
        _register(brand, PREFIX);
        _commissionLeaf(brandKey, brand, 0);
        _revoke(brand);
        assertTrue(_confirmedFor(GTIN, 0), "held by the revoked brand");
        _register(brand2, PREFIX);
        assertTrue(_confirmedFor(GTIN, 0), "the prefix's former holder");
    }

    function test_verifyBrandConfirmed_falseForUnknownRoot() public {
        _register(brand, PREFIX);
        assertFalse(_confirmedFor(GTIN, 0));
    }

    function test_verifyBrandConfirmed_revertsOnInvalidGtinOrKind() public {
        bytes32[] memory proof = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidGtin.selector, "0614141"));
        anchor2.verifyBrandConfirmed("0614141", 0, EVENT_HASH, SALT, proof);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidGtin.selector, "1061414100041x"));
        anchor2.verifyBrandConfirmed("1061414100041x", 0, EVENT_HASH, SALT, proof);
        vm.expectRevert(abi.encodeWithSelector(ITraceAnchorV2.AnchorInvalidKind.selector, uint8(2)));
        anchor2.verifyBrandConfirmed(GTIN, 2, EVENT_HASH, SALT, proof);
    }
}
