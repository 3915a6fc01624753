// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TraceAnchor} from "../../contracts/TraceAnchor.sol";
import {ITraceAnchor} from "../../contracts/interfaces/ITraceAnchor.sol";
import {ChaintraceTest} from "./utils/ChaintraceTest.sol";

/// @dev TraceAnchor's EIP-712 domain, type hashes and digests, pinned to an independent encoder.
contract TraceAnchorEip712Test is ChaintraceTest {
    // The vectors below were produced by eth-account 0.14 (encode_typed_data, hash_struct) for
    // chainId 31337 and verifyingContract PINNED, with the type strings of docs/formats.md.
    address internal constant PINNED = 0xa0c0000000000000000000000000000000000a0c;
    bytes32 internal constant READING_STRUCT = 0xf9eb5d5a6a002274bc5445a98f113bfd92d7c15f2f8289488837f10684069ec5;
    bytes32 internal constant READING_DIGEST = 0x08ad025f640db1bda87c390b2d9664b37a7cbca89c51e34349311a448da7280a;
    bytes32 internal constant COMMISSIONING_DIGEST = 0x81d417e37f3c545c4bc335877caa7b3076b5b35dcbd7703a8eac9116e4ad36f7;
    bytes32 internal constant DEVICE_DIGEST = 0x6773ffe909bf672ccd96df6268afb547bb42c3fa647edbd1d90c1582491df3ed;

    TraceAnchor internal pinned;

    function setUp() public override {
        super.setUp();
        deployCodeTo("TraceAnchor.sol:TraceAnchor", abi.encode(admin, anchorer), PINNED);
        pinned = TraceAnchor(PINNED);
    }

    function _reading() internal pure returns (ITraceAnchor.Reading memory) {
        return ITraceAnchor.Reading({
            device: 0x4000000000000000000000000000000000000004,
            seq: 7,
            takenAtMs: 1_700_000_000_123,
            temperatureCentiC: -1234,
            humidityCentiPct: 5678,
            shockMilliG: 90,
            latE7: -338_688_500,
            lonE7: 1_512_093_000
        });
    }

    function test_typehashes_matchDocsTypeStrings() public view {
        assertEq(
            traceAnchor.READING_TYPEHASH(),
            keccak256(
                "Reading(address device,uint64 seq,uint64 takenAtMs,int32 temperatureCentiC,uint32 humidityCentiPct,uint32 shockMilliG,int32 latE7,int32 lonE7)"
            )
        );
        assertEq(
            traceAnchor.COMMISSIONING_TYPEHASH(),
            keccak256("Commissioning(address brand,bytes32 root,uint32 leafCount)")
        );
        assertEq(
            traceAnchor.DEVICE_REGISTRATION_TYPEHASH(), keccak256("DeviceRegistration(address device,address operator)")
        );
    }

    function test_eip712Domain_matchesDocs() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            traceAnchor.eip712Domain();
        assertEq(name, "chaintrace TraceAnchor");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(traceAnchor));
    }

    function test_hashReading_matchesEthAccount() public view {
        assertEq(pinned.hashReading(_reading()), READING_STRUCT);
    }

    function test_readingDigest_matchesEthAccount() public view {
        assertEq(pinned.readingDigest(_reading()), READING_DIGEST);
    }

    function test_commissioningDigest_matchesEthAccount() public view {
        bytes32 root = 0x4444444444444444444444444444444444444444444444444444444444444444;
        assertEq(
            pinned.commissioningDigest(0x5000000000000000000000000000000000000005, root, 1000), COMMISSIONING_DIGEST
        );
    }

    function test_deviceRegistrationDigest_matchesEthAccount() public view {
        assertEq(
            pinned.deviceRegistrationDigest(
                0x4000000000000000000000000000000000000004, 0x6000000000000000000000000000000000000006
            ),
            DEVICE_DIGEST
        );
    }

    function test_readingDigest_isBoundToChain() public {
        bytes32 here = pinned.readingDigest(_reading());
        vm.chainId(1);
        assertTrue(pinned.readingDigest(_reading()) != here);
    }

    function test_readingDigest_signedByDeviceRecovers() public view {
        (address device, uint256 deviceKey) = (brand, brandKey);
        ITraceAnchor.Reading memory r = _reading();
        r.device = device;
        bytes32 digest = traceAnchor.readingDigest(r);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(deviceKey, digest);
        assertEq(ecrecover(digest, v, rr, s), device);
    }
}
