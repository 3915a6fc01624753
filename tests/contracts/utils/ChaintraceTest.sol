// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Test} from "forge-std/Test.sol";

import {ShipmentEscrow} from "../../../contracts/ShipmentEscrow.sol";
import {TraceAnchor} from "../../../contracts/TraceAnchor.sol";

/// @dev Shared fixture: named test accounts with keys, both contracts deployed, a fixed clock.
abstract contract ChaintraceTest is Test {
    uint256 internal constant START_TIME = 1_800_000_000;
    address internal constant ETH = address(0);

    address internal admin;
    address internal anchorer;
    address internal stranger;
    address internal oracle;
    uint256 internal oracleKey;
    address internal buyer;
    uint256 internal buyerKey;
    address internal payee;
    uint256 internal payeeKey;
    address internal brand;
    uint256 internal brandKey;
    address internal arbiter;
    address internal device;
    uint256 internal deviceKey;

    TraceAnchor internal traceAnchor;
    ShipmentEscrow internal escrow;

    function setUp() public virtual {
        vm.warp(START_TIME);
        admin = makeAddr("admin");
        anchorer = makeAddr("anchorer");
        stranger = makeAddr("stranger");
        (oracle, oracleKey) = makeAddrAndKey("oracle");
        (buyer, buyerKey) = makeAddrAndKey("buyer");
        (payee, payeeKey) = makeAddrAndKey("payee");
        (brand, brandKey) = makeAddrAndKey("brand");
        arbiter = makeAddr("arbiter");
        (device, deviceKey) = makeAddrAndKey("device");

        traceAnchor = new TraceAnchor(admin, anchorer);
        escrow = new ShipmentEscrow(admin, traceAnchor);
        bytes32 oracleRole = escrow.ORACLE_ROLE();
        vm.prank(admin);
        escrow.grantRole(oracleRole, oracle);
        vm.deal(buyer, 1000 ether);
    }

    /// @dev Registers `account` as the brand that owns GS1 company prefix `prefix`.
    function _registerBrand(address account, string memory prefix) internal {
        vm.prank(admin);
        traceAnchor.registerBrand(account, prefix);
    }

    /// @dev A 65-byte (r, s, v) signature, the layout ECDSA and SignatureChecker accept.
    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev The expectRevert payload OpenZeppelin's AccessControl produces.
    function _unauthorized(address account, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role);
    }
}
