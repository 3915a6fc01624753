// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {TraceAnchorV2} from "../../../contracts/TraceAnchorV2.sol";
import {ITraceAnchorV2} from "../../../contracts/interfaces/ITraceAnchorV2.sol";

/// @dev Drives TraceAnchor v2 for the invariant tests: registers brands under random prefixes of
/// two digit values (so that prefixes often nest), revokes, marks compromised, anchors platform and
/// brand roots (one-leaf roots, so every root can be checked with an empty proof), replaces stolen
/// keys (compromise, revoke, new account for the prefix), endorses and lets time pass. Registration is checked against a model here (refused exactly when the prefix
/// nests with one ever registered or is held by a live brand); every other action picks an input
/// it applies to and otherwise does nothing, so no call is expected to revert.
contract TraceAnchorV2Handler is CommonBase, StdCheats, StdUtils {
    uint256 private constant ACCOUNTS = 12;
    uint256 private constant MAX_ROOTS = 24;

    TraceAnchorV2 public immutable anchor2;
    address public immutable admin;
    address public immutable anchorer;
    address public immutable registrar;
    uint256 public immutable startTime;

    address[] public accounts;
    mapping(address account => uint256) private _keys;

    /// @dev Every distinct prefix ever registered, and every account ever registered (in order).
    string[] public prefixes;
    address[] public brands;
    mapping(string prefix => address) public ghostHolder;
    mapping(address brand => string) public ghostPrefix;
    mapping(address brand => bool) public ghostRevoked;
    mapping(address brand => uint64) public ghostCompromisedSince;

    /// @dev One-leaf roots: root = leafHash(0, rootEvent[root], rootSalt[root]).
    bytes32[] public brandRoots;
    bytes32[] public platformRoots;
    mapping(bytes32 root => bytes32) public rootEvent;
    mapping(bytes32 root => bytes32) public rootSalt;
    mapping(bytes32 root => address) public ghostEndorser;
    uint256 private _nonce;

    /// @dev How many calls of each action got past their guards and changed the contract.
    mapping(bytes4 selector => uint256) public applied;
    /// @dev Registrations refused because the prefix nests, and anchorings refused to a brand
    /// that may no longer sign.
    uint256 public refusedNested;
    uint256 public refusedAnchorings;

    constructor(TraceAnchorV2 anchor_, address admin_, address anchorer_, address registrar_) {
        anchor2 = anchor_;
        admin = admin_;
        anchorer = anchorer_;
        registrar = registrar_;
        startTime = block.timestamp;
        for (uint256 i = 0; i < ACCOUNTS; ++i) {
            (address account, uint256 key) = makeAddrAndKey(string.concat("v2-brand", vm.toString(i)));
            accounts.push(account);
            _keys[account] = key;
        }
    }

    function prefixCount() external view returns (uint256) {
        return prefixes.length;
    }

    function brandCount() external view returns (uint256) {
        return brands.length;
    }

    function brandRootCount() external view returns (uint256) {
        return brandRoots.length;
    }

    function platformRootCount() external view returns (uint256) {
        return platformRoots.length;
    }

    // ---------------------------------------------------------------- actions

    /// @dev Registers a fresh account under a prefix of 6-12 digits 0 and 1, or under an existing
    /// prefix (every fourth seed), and checks the outcome against the model.
    function registerBrand(uint256 accountSeed, uint256 digitsSeed, uint256 lengthSeed) external {
        address account = _freshAccount(accountSeed);
        if (account == address(0)) return;
        string memory prefix;
        if (digitsSeed % 4 == 0 && prefixes.length != 0) {
            prefix = prefixes[(digitsSeed / 4) % prefixes.length];
        } else {
            bytes memory digits = new bytes(bound(lengthSeed, 6, 12));
            for (uint256 i = 0; i < digits.length; ++i) {
                digits[i] = bytes1(uint8(48 + ((digitsSeed >> i) & 1)));
            }
            prefix = string(digits);
        }
        address holder = ghostHolder[prefix];
        bool taken = holder != address(0) && !ghostRevoked[holder];
        bool nested = holder == address(0) && _nestsWithRegistered(prefix);

        vm.prank(registrar);
        try anchor2.registerBrand(account, prefix) {
            require(!taken && !nested, "registered a taken or nested prefix");
        } catch (bytes memory err) {
            require(taken || nested, "refused a free prefix");
            bytes4 expected =
                taken ? ITraceAnchorV2.AnchorPrefixRegistered.selector : ITraceAnchorV2.AnchorPrefixNested.selector;
            require(bytes4(err) == expected, "unexpected refusal");
            if (nested) ++refusedNested;
            return;
        }
        if (holder == address(0)) prefixes.push(prefix);
        ghostHolder[prefix] = account;
        ghostPrefix[account] = prefix;
        brands.push(account);
        ++applied[this.registerBrand.selector];
    }

    function revokeBrand(uint256 seed) external {
        address account = _liveBrand(seed);
        if (account == address(0)) return;
        vm.prank(admin);
        anchor2.revokeBrand(account);
        ghostRevoked[account] = true;
        ++applied[this.revokeBrand.selector];
    }

    /// @dev Marks a brand compromised since a time between the start and now (or earlier than
    /// recorded), so that its roots fall on both sides of it.
    function markCompromised(uint256 seed, uint256 sinceSeed) external {
        if (brands.length == 0) return;
        address account = brands[seed % brands.length];
        uint64 recorded = ghostCompromisedSince[account];
        uint256 latest = recorded == 0 ? block.timestamp : recorded - 1;
        if (latest < startTime) return;
        uint64 since = uint64(bound(sinceSeed, startTime, latest));
        vm.prank(admin);
        anchor2.markCompromised(account, since);
        ghostCompromisedSince[account] = since;
        ++applied[this.markCompromised.selector];
    }

    /// @dev What the platform does when a key is stolen: marks the brand compromised (unless it
    /// is already), revokes it and registers a fresh account for its prefix.
    function replaceKey(uint256 seed, uint256 sinceSeed, uint256 accountSeed) external {
        address account = _liveBrand(seed);
        address fresh = _freshAccount(accountSeed);
        if (account == address(0) || fresh == address(0)) return;
        if (ghostCompromisedSince[account] == 0) {
            uint64 since = uint64(bound(sinceSeed, startTime, block.timestamp));
            vm.prank(admin);
            anchor2.markCompromised(account, since);
            ghostCompromisedSince[account] = since;
        }
        vm.prank(admin);
        anchor2.revokeBrand(account);
        ghostRevoked[account] = true;
        string memory prefix = ghostPrefix[account];
        vm.prank(registrar);
        anchor2.registerBrand(fresh, prefix);
        ghostHolder[prefix] = fresh;
        ghostPrefix[fresh] = prefix;
        brands.push(fresh);
        ++applied[this.replaceKey.selector];
    }

    /// @dev A brand that may still sign anchors a root (relayed by anyone).
    function anchorCommissioning(uint256 seed) external {
        if (brandRoots.length + platformRoots.length >= MAX_ROOTS) return;
        address account = _signingBrand(seed);
        if (account == address(0)) return;
        bytes32 root = _newRoot();
        anchor2.anchorCommissioning(root, 1, account, _signature(account, root));
        brandRoots.push(root);
        ++applied[this.anchorCommissioning.selector];
    }

    /// @dev A revoked or compromised brand tries to anchor a root: always refused.
    function anchorAsDisabledBrand(uint256 seed) external {
        for (uint256 i = 0; i < brands.length; ++i) {
            address account = brands[(seed % brands.length + i) % brands.length];
            if (!ghostRevoked[account] && ghostCompromisedSince[account] == 0) continue;
            bytes32 root = keccak256(abi.encode("refused", ++_nonce));
            try anchor2.anchorCommissioning(root, 1, account, _signature(account, root)) {
                revert("a revoked or compromised brand anchored a root");
            } catch (bytes memory err) {
                require(
                    bytes4(err) == ITraceAnchorV2.AnchorBrandRevoked.selector
                        || bytes4(err) == ITraceAnchorV2.AnchorBrandCompromised.selector,
                    "unexpected refusal"
                );
            }
            ++refusedAnchorings;
            return;
        }
    }

    function anchorPlatform() external {
        if (brandRoots.length + platformRoots.length >= MAX_ROOTS) return;
        bytes32 root = _newRoot();
        vm.prank(anchorer);
        anchor2.anchor(root, 1);
        platformRoots.push(root);
        ++applied[this.anchorPlatform.selector];
    }

    /// @dev The current holder of a brand root's prefix (not its signer) re-signs it, if it may sign.
    function endorseRoot(uint256 seed) external {
        for (uint256 i = 0; i < brandRoots.length; ++i) {
            bytes32 root = brandRoots[(seed % brandRoots.length + i) % brandRoots.length];
            if (ghostEndorser[root] != address(0)) continue;
            address signer = anchor2.rootInfo(root).brand;
            address holder = ghostHolder[ghostPrefix[signer]];
            if (holder == signer || ghostRevoked[holder] || ghostCompromisedSince[holder] != 0) continue;
            anchor2.endorseRoot(root, holder, _signature(holder, root));
            ghostEndorser[root] = holder;
            ++applied[this.endorseRoot.selector];
            return;
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 1 days));
        ++applied[this.warp.selector];
    }

    // ---------------------------------------------------------------- helpers

    function _freshAccount(uint256 seed) private view returns (address) {
        for (uint256 i = 0; i < ACCOUNTS; ++i) {
            address account = accounts[(seed % ACCOUNTS + i) % ACCOUNTS];
            if (bytes(ghostPrefix[account]).length == 0) return account;
        }
        return address(0);
    }

    function _liveBrand(uint256 seed) private view returns (address) {
        for (uint256 i = 0; i < brands.length; ++i) {
            address account = brands[(seed % brands.length + i) % brands.length];
            if (!ghostRevoked[account]) return account;
        }
        return address(0);
    }

    function _signingBrand(uint256 seed) private view returns (address) {
        for (uint256 i = 0; i < brands.length; ++i) {
            address account = brands[(seed % brands.length + i) % brands.length];
            if (!ghostRevoked[account] && ghostCompromisedSince[account] == 0) return account;
        }
        return address(0);
    }

    function _newRoot() private returns (bytes32 root) {
        ++_nonce;
        bytes32 eventHash = keccak256(abi.encode("event", _nonce));
        bytes32 salt = keccak256(abi.encode("salt", _nonce));
        root = anchor2.leafHash(0, eventHash, salt);
        rootEvent[root] = eventHash;
        rootSalt[root] = salt;
    }

    function _signature(address account, bytes32 root) private view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[account], anchor2.commissioningDigest(account, root, 1));
        return abi.encodePacked(r, s, v);
    }

    function _nestsWithRegistered(string memory prefix) private view returns (bool) {
        for (uint256 i = 0; i < prefixes.length; ++i) {
            if (startsWith(prefixes[i], prefix) || startsWith(prefix, prefixes[i])) return true;
        }
        return false;
    }

    /// @dev Whether `text` starts with `start` (and is not `start` itself).
    function startsWith(string memory text, string memory start) public pure returns (bool) {
        bytes memory t = bytes(text);
        bytes memory s = bytes(start);
        if (s.length >= t.length) return false;
        for (uint256 i = 0; i < s.length; ++i) {
            if (t[i] != s[i]) return false;
        }
        return true;
    }
}
