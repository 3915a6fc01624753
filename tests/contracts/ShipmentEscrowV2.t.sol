// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {ShipmentEscrowV2} from "../../contracts/ShipmentEscrowV2.sol";
import {IShipmentEscrowV2} from "../../contracts/interfaces/IShipmentEscrowV2.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {EscrowV2TestBase} from "./utils/EscrowV2TestBase.sol";

/// @dev Roles, the EIP-712 domain, type hashes and digests, pinned to tests/vectors/escrow_v2.json
/// (eth-account's encoder, DESIGN.md's type strings; core and ethers check the same file).
contract ShipmentEscrowV2Test is EscrowV2TestBase {
    address internal constant PINNED = 0xe5C0000000000000000000000000000000000e52;
    bytes32 internal constant TERMS_TYPEHASH = 0x5ea8983fb8dd0a1244c33247ff35ffe1d3ba3dc5440961f33e01b33621f3e691;
    bytes32 internal constant ATTESTATION_TYPEHASH = 0x58be737c336a40b478516af94af88f0990a2e1ee0f0ae05aedf3e1540f6c8e47;
    bytes32 internal constant DEVICES_V1 = 0x43a5b1ece813910a9267e8207309091865d6485e81bfd3acab9eeb5f727db0c7;
    bytes32 internal constant DEVICES_ROOT = 0x52ff3bcbe360bd27cea3ad50a9741f5a43dc8322cd45df6e420649ff0761608e;
    bytes32 internal constant TERMS_HASH = 0x48c08488927ed366ec67c79eda55db577d6b719296cd8953e3be556344d2b3ca;
    bytes32 internal constant TERMS_DIGEST = 0x02e8de37b25546f2bf98158c3e543041443e9ef379f05f5ec61bc9526430023d;
    bytes32 internal constant ATTESTATION_DIGEST = 0x9c3f1918d1a5c2d12fa51509d89651e70dbae6e361ebca0fa716ac541627be0b;
    address internal constant SIGNER = 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23;
    bytes internal constant TERMS_SIGNATURE =
        hex"957666f4ec36f8f826032365b9d672d91f0073dcd5f9b0616992a5d2b9e0298b439482153700bdf04ac9053a79e938ceaa89d7406bf3066bc9e727ad0130053a1c";
    bytes internal constant ATTESTATION_SIGNATURE =
        hex"d54d76344fe096a23f5cfba9a4eb2b8fadc5b7016cfd1589943371b3ee50df6b60d21742da9fd729bf50483a2519fbd2a8150938e922621afdb872c081c4a83b1b";

    ShipmentEscrowV2 internal pinned;

    function setUp() public override {
        super.setUp();
        deployCodeTo(
            "ShipmentEscrowV2.sol:ShipmentEscrowV2", abi.encode(admin, ADMIN_DELAY, address(traceAnchor)), PINNED
        );
        pinned = ShipmentEscrowV2(PINNED);
    }

    function _vectorTerms() internal pure returns (IShipmentEscrowV2.Terms memory t) {
        t.shipmentId = 0x1111111111111111111111111111111111111111111111111111111111111111;
        t.buyer = 0x1000000000000000000000000000000000000001;
        t.payee = 0x2000000000000000000000000000000000000002;
        t.carrier = 0x6000000000000000000000000000000000000006;
        t.token = address(0);
        t.amount = 1_234_567_890_123_456_789;
        t.minTempCentiC = -250;
        t.maxTempCentiC = 800;
        t.minHumidityCentiPct = 3000;
        t.maxHumidityCentiPct = 8500;
        t.maxShockMilliG = 2500;
        t.graceMinutes = 15;
        t.penaltyBpsPerMinute = 25;
        t.penaltyBpsPerShock = 40;
        t.penaltyBpsPerLateHour = 10;
        t.penaltyCapBps = 5000;
        t.maxGapMinutes = 30;
        t.fundBy = 1_899_000_000;
        t.deadline = 1_900_000_000;
        t.refundGrace = 259_200;
        t.disputeWindow = 172_800;
        t.arbiter = 0x3000000000000000000000000000000000000003;
        t.disputeTimeout = 604_800;
        t.devicesRoot = DEVICES_ROOT;
        t.destLatE7 = 535_511_000;
        t.destLonE7 = -99_937_000;
        t.destRadiusM = 500;
        t.arrivalDwellMinutes = 20;
        t.autoAcceptAfter = 7200;
        t.oracle = 0x7000000000000000000000000000000000000007;
    }

    function _vectorAttestation() internal pure returns (IShipmentEscrowV2.DeliveryAttestation memory a) {
        a.shipmentId = 0x1111111111111111111111111111111111111111111111111111111111111111;
        a.termsHash = TERMS_HASH;
        a.evidenceRoot = 0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee;
        a.excursionMinutes = 21;
        a.shockCount = 2;
        a.windowStart = 1_899_500_000;
        a.deliveredAt = 1_899_900_000;
        a.deliveryBasis = 1;
    }

    function test_vector_typehashesMatchDesignTypeStrings() public view {
        assertEq(pinned.TERMS_TYPEHASH(), TERMS_TYPEHASH);
        assertEq(pinned.ATTESTATION_TYPEHASH(), ATTESTATION_TYPEHASH);
        assertEq(
            pinned.TERMS_TYPEHASH(),
            keccak256(
                "Terms(bytes32 shipmentId,address buyer,address payee,address carrier,address token,uint256 amount,int32 minTempCentiC,int32 maxTempCentiC,uint32 minHumidityCentiPct,uint32 maxHumidityCentiPct,uint32 maxShockMilliG,uint32 graceMinutes,uint32 penaltyBpsPerMinute,uint32 penaltyBpsPerShock,uint32 penaltyBpsPerLateHour,uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 fundBy,uint64 deadline,uint64 refundGrace,uint64 disputeWindow,address arbiter,uint64 disputeTimeout,bytes32 devicesRoot,int32 destLatE7,int32 destLonE7,uint32 destRadiusM,uint32 arrivalDwellMinutes,uint64 autoAcceptAfter,address oracle)"
            )
        );
        assertEq(
            pinned.ATTESTATION_TYPEHASH(),
            keccak256(
                "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,uint32 excursionMinutes,uint32 shockCount,uint64 windowStart,uint64 deliveredAt,uint8 deliveryBasis)"
            )
        );
        assertEq(pinned.MUTUAL_RELEASE_TYPEHASH(), keccak256("MutualRelease(bytes32 shipmentId,uint256 payout)"));
    }

    function test_vector_devicesRootMatchesMerkleTreePackage() public view {
        assertEq(pinned.DEVICES_V1(), DEVICES_V1);
        assertEq(pinned.DEVICES_V1(), keccak256("chaintrace.devices.v1"));
        bytes32 a = pinned.deviceLeaf(0x4000000000000000000000000000000000000004);
        bytes32 b = pinned.deviceLeaf(0x5000000000000000000000000000000000000005);
        assertEq(Hashes.commutativeKeccak256(a, b), DEVICES_ROOT);
    }

    function test_vector_termsHashAndDigest() public view {
        assertEq(block.chainid, 31_337);
        assertEq(pinned.hashTerms(_vectorTerms()), TERMS_HASH);
        assertEq(pinned.termsDigest(_vectorTerms()), TERMS_DIGEST);
    }

    function test_vector_attestationDigest() public view {
        assertEq(pinned.attestationDigest(_vectorAttestation()), ATTESTATION_DIGEST);
    }

    function test_vector_signaturesRecoverToSigner() public pure {
        assertEq(ECDSA.recover(TERMS_DIGEST, TERMS_SIGNATURE), SIGNER);
        assertEq(ECDSA.recover(ATTESTATION_DIGEST, ATTESTATION_SIGNATURE), SIGNER);
    }

    function test_hashTerms_equalsFieldByFieldEncoding() public view {
        IShipmentEscrowV2.Terms memory t = _vectorTerms();
        bytes memory a = abi.encode(
            TERMS_TYPEHASH, t.shipmentId, t.buyer, t.payee, t.carrier, t.token, t.amount, t.minTempCentiC
        );
        bytes memory b = abi.encode(
            t.maxTempCentiC,
            t.minHumidityCentiPct,
            t.maxHumidityCentiPct,
            t.maxShockMilliG,
            t.graceMinutes,
            t.penaltyBpsPerMinute,
            t.penaltyBpsPerShock,
            t.penaltyBpsPerLateHour
        );
        bytes memory c = abi.encode(
            t.penaltyCapBps, t.maxGapMinutes, t.fundBy, t.deadline, t.refundGrace, t.disputeWindow, t.arbiter
        );
        bytes memory d = abi.encode(
            t.disputeTimeout,
            t.devicesRoot,
            t.destLatE7,
            t.destLonE7,
            t.destRadiusM,
            t.arrivalDwellMinutes,
            t.autoAcceptAfter,
            t.oracle
        );
        assertEq(pinned.hashTerms(t), keccak256(bytes.concat(a, b, c, d)));
    }

    function test_eip712Domain_isVersion2() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            escrow2.eip712Domain();
        assertEq(name, "chaintrace ShipmentEscrow");
        assertEq(version, "2");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(escrow2));
    }

    function test_termsDigest_isBoundToDeployment() public view {
        assertTrue(pinned.termsDigest(_vectorTerms()) != escrow2.termsDigest(_vectorTerms()));
    }

    function test_mutualReleaseDigest_isTypedData() public view {
        bytes32 structHash = keccak256(abi.encode(keccak256("MutualRelease(bytes32 shipmentId,uint256 payout)"), SHIPMENT_ID, 3));
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            escrow2.eip712Domain();
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(bytes(name)),
                keccak256(bytes(version)),
                chainId,
                verifyingContract
            )
        );
        assertEq(escrow2.mutualReleaseDigest(SHIPMENT_ID, 3), keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
    }

    function test_readingDigest_equalsTraceAnchors() public view {
        ITraceAnchor.Reading memory r = _reading(device, 5, uint64(block.timestamp));
        assertEq(escrow2.readingDigest(r), traceAnchor.readingDigest(r));
        assertEq(escrow2.traceAnchor(), address(traceAnchor));
    }

    function test_evidenceLeaf_matchesV1() public view {
        bytes32 digest = keccak256("reading");
        assertEq(escrow2.evidenceLeaf(digest), escrow.evidenceLeaf(digest));
    }

    function test_constructor_grantsAdminWithDelay() public view {
        assertTrue(escrow2.hasRole(escrow2.DEFAULT_ADMIN_ROLE(), admin));
        assertEq(escrow2.defaultAdmin(), admin);
        assertEq(escrow2.defaultAdminDelay(), ADMIN_DELAY);
        assertFalse(pinned.hasRole(pinned.ORACLE_ROLE(), oracle), "oracles are granted after deployment");
        assertEq(escrow2.ORACLE_ROLE(), keccak256("ORACLE_ROLE"));
        assertEq(escrow2.GUARDIAN_ROLE(), keccak256("GUARDIAN_ROLE"));
    }

    function test_defaultAdmin_transferIsTwoStepWithDelay() public {
        address next = makeAddr("next-admin");
        vm.prank(admin);
        escrow2.beginDefaultAdminTransfer(next);
        vm.prank(next);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector,
                uint48(block.timestamp + ADMIN_DELAY)
            )
        );
        escrow2.acceptDefaultAdminTransfer();
        vm.warp(block.timestamp + ADMIN_DELAY + 1);
        vm.prank(next);
        escrow2.acceptDefaultAdminTransfer();
        assertEq(escrow2.defaultAdmin(), next);
        assertFalse(escrow2.hasRole(escrow2.DEFAULT_ADMIN_ROLE(), admin));
    }

    function test_constructor_revertsOnZeroTraceAnchor() public {
        vm.expectRevert(IShipmentEscrowV2.EscrowV2InvalidTraceAnchor.selector);
        new ShipmentEscrowV2(admin, ADMIN_DELAY, address(0));
    }

    function test_grantRole_revertsIfNotAdmin() public {
        bytes32 oracleRole = escrow2.ORACLE_ROLE();
        bytes32 adminRole = escrow2.DEFAULT_ADMIN_ROLE();
        vm.prank(guardian);
        vm.expectRevert(_unauthorized(guardian, adminRole));
        escrow2.grantRole(oracleRole, stranger);
    }

    function test_grantRole_defaultAdminRoleRevertsEvenForAdmin() public {
        bytes32 adminRole = escrow2.DEFAULT_ADMIN_ROLE();
        vm.prank(admin);
        vm.expectRevert(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector);
        escrow2.grantRole(adminRole, stranger);
    }
}
