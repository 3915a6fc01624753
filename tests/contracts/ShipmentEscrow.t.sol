// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ShipmentEscrow} from "../../contracts/ShipmentEscrow.sol";
import {IShipmentEscrow} from "../../contracts/interfaces/IShipmentEscrow.sol";
import {EscrowTestBase} from "./utils/EscrowTestBase.sol";

/// @dev Roles, the EIP-712 domain, type hashes and digests (pinned to an independent encoder).
contract ShipmentEscrowTest is EscrowTestBase {
    // The vectors below were produced by eth-account 0.14 (encode_typed_data, hash_struct) for
    // chainId 31337 and verifyingContract PINNED, with the type strings of docs/formats.md.
    address internal constant PINNED = 0xe5c0000000000000000000000000000000000e5C;
    bytes32 internal constant TERMS_STRUCT = 0xc284a0fb7f35469f419969b11ef453af45e2b7ad7807cf3012bf666a9346482c;
    bytes32 internal constant TERMS_DIGEST = 0x13e27e2435a2a0f8bb1f6f9f8e8e644d645b83787b2ed0ca965e75d9fd3a62aa;
    bytes32 internal constant ATTESTATION_DIGEST = 0xcf96ab869104184dcb4f573d14b566ef25c502be8946581fe05be1d1619f9070;

    ShipmentEscrow internal pinned;

    function setUp() public override {
        super.setUp();
        deployCodeTo("ShipmentEscrow.sol:ShipmentEscrow", abi.encode(admin, traceAnchor), PINNED);
        pinned = ShipmentEscrow(PINNED);
    }

    /// @dev Negative temperatures check sign extension; every field differs from its neighbours.
    function _vectorTerms() internal pure returns (IShipmentEscrow.Terms memory) {
        return IShipmentEscrow.Terms({
            shipmentId: 0x1111111111111111111111111111111111111111111111111111111111111111,
            buyer: 0x1000000000000000000000000000000000000001,
            payee: 0x2000000000000000000000000000000000000002,
            token: address(0),
            amount: 1 ether,
            minTempCentiC: -250,
            maxTempCentiC: 800,
            graceMinutes: 15,
            penaltyBpsPerMinute: 25,
            penaltyCapBps: 5000,
            maxGapMinutes: 30,
            deadline: 1_900_000_000,
            refundGrace: 86_400,
            disputeWindow: 172_800,
            arbiter: 0x3000000000000000000000000000000000000003,
            disputeTimeout: 604_800
        });
    }

    function test_constructor_grantsAdminOnly() public view {
        assertTrue(escrow.hasRole(escrow.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(pinned.hasRole(pinned.DEFAULT_ADMIN_ROLE(), admin));
        assertFalse(pinned.hasRole(pinned.ORACLE_ROLE(), oracle), "oracles are granted after deployment");
        assertEq(escrow.ORACLE_ROLE(), keccak256("ORACLE_ROLE"));
    }

    function test_grantRole_oracleRevertsIfNotAdmin() public {
        bytes32 adminRole = escrow.DEFAULT_ADMIN_ROLE();
        bytes32 oracleRole = escrow.ORACLE_ROLE();
        vm.prank(oracle);
        vm.expectRevert(_unauthorized(oracle, adminRole));
        escrow.grantRole(oracleRole, stranger);
    }

    function test_typehashes_matchDocsTypeStrings() public view {
        assertEq(
            escrow.TERMS_TYPEHASH(),
            keccak256(
                "Terms(bytes32 shipmentId,address buyer,address payee,address token,uint256 amount,int32 minTempCentiC,int32 maxTempCentiC,uint32 graceMinutes,uint32 penaltyBpsPerMinute,uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 deadline,uint64 refundGrace,uint64 disputeWindow,address arbiter,uint64 disputeTimeout)"
            )
        );
        assertEq(
            escrow.ATTESTATION_TYPEHASH(),
            keccak256(
                "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,uint32 excursionMinutes,uint64 deliveredAt)"
            )
        );
    }

    function test_eip712Domain_matchesDocs() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            escrow.eip712Domain();
        assertEq(name, "chaintrace ShipmentEscrow");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(escrow));
    }

    function test_hashTerms_matchesEthAccount() public view {
        assertEq(pinned.hashTerms(_vectorTerms()), TERMS_STRUCT);
    }

    function test_hashTerms_equalsFieldByFieldEncoding() public view {
        IShipmentEscrow.Terms memory t = _vectorTerms();
        bytes memory head = abi.encode(
            escrow.TERMS_TYPEHASH(), t.shipmentId, t.buyer, t.payee, t.token, t.amount, t.minTempCentiC, t.maxTempCentiC
        );
        bytes memory tail = abi.encode(
            t.graceMinutes,
            t.penaltyBpsPerMinute,
            t.penaltyCapBps,
            t.maxGapMinutes,
            t.deadline,
            t.refundGrace,
            t.disputeWindow,
            t.arbiter,
            t.disputeTimeout
        );
        assertEq(escrow.hashTerms(t), keccak256(bytes.concat(head, tail)));
    }

    function test_termsDigest_matchesEthAccount() public view {
        assertEq(pinned.termsDigest(_vectorTerms()), TERMS_DIGEST);
    }

    function test_attestationDigest_matchesEthAccount() public view {
        IShipmentEscrow.DeliveryAttestation memory a = IShipmentEscrow.DeliveryAttestation({
            shipmentId: 0x1111111111111111111111111111111111111111111111111111111111111111,
            termsHash: TERMS_STRUCT,
            evidenceRoot: 0x3333333333333333333333333333333333333333333333333333333333333333,
            excursionMinutes: 42,
            deliveredAt: 1_899_999_000
        });
        assertEq(pinned.attestationDigest(a), ATTESTATION_DIGEST);
    }

    function test_termsDigest_isBoundToDeployment() public view {
        assertTrue(pinned.termsDigest(_vectorTerms()) != escrow.termsDigest(_vectorTerms()));
    }
}
