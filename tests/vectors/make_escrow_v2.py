"""Writes escrow_v2.json: the pinned Terms v2 / DeliveryAttestation v2 vector (DESIGN.md).

Produced with eth-account's encoder (independent of core/) from the exact type strings of
../shared/DESIGN.md; devicesRoot is @openzeppelin/merkle-tree's StandardMerkleTree root over
(DEVICES_V1, device) leaves. core, forge and ethers check their own encoders against the file.
Run: .venv/bin/python tests/vectors/make_escrow_v2.py (the file is committed; rerun only to
review it, the values must not change).
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

TERMS_V2 = (
    "Terms(bytes32 shipmentId,address buyer,address payee,address carrier,address token,"
    "uint256 amount,int32 minTempCentiC,int32 maxTempCentiC,uint32 minHumidityCentiPct,"
    "uint32 maxHumidityCentiPct,uint32 maxShockMilliG,uint32 graceMinutes,"
    "uint32 penaltyBpsPerMinute,uint32 penaltyBpsPerShock,uint32 penaltyBpsPerLateHour,"
    "uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 fundBy,uint64 deadline,uint64 refundGrace,"
    "uint64 disputeWindow,address arbiter,uint64 disputeTimeout,bytes32 devicesRoot,"
    "int32 destLatE7,int32 destLonE7,uint32 destRadiusM,uint32 arrivalDwellMinutes,"
    "uint64 autoAcceptAfter,address oracle)"
)
ATTESTATION_V2 = (
    "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,"
    "uint32 excursionMinutes,uint32 shockCount,uint64 windowStart,uint64 deliveredAt,"
    "uint8 deliveryBasis)"
)
# A fixed, well-known test key (not a secret): signs both messages of the vector.
SIGNER_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
# StandardMerkleTree root over [(DEVICES_V1, 0x40..04), (DEVICES_V1, 0x50..05)] from
# @openzeppelin/merkle-tree 1.0.8.
DEVICES_ROOT = "0x52ff3bcbe360bd27cea3ad50a9741f5a43dc8322cd45df6e420649ff0761608e"
DEVICES = [
    "0x4000000000000000000000000000000000000004",
    "0x5000000000000000000000000000000000000005",
]


def _fields(type_string: str) -> list[dict[str, str]]:
    inner = type_string[type_string.index("(") + 1 : -1]
    return [dict(zip(("type", "name"), f.split(" "), strict=True)) for f in inner.split(",")]


def main() -> None:
    domain = {
        "name": "chaintrace ShipmentEscrow",
        "version": "2",
        "chainId": 31337,
        "verifyingContract": "0xe5C0000000000000000000000000000000000e52",
    }
    terms = {
        "shipmentId": "0x" + "11" * 32,
        "buyer": "0x1000000000000000000000000000000000000001",
        "payee": "0x2000000000000000000000000000000000000002",
        "carrier": "0x6000000000000000000000000000000000000006",
        "token": "0x0000000000000000000000000000000000000000",
        "amount": 1234567890123456789,
        "minTempCentiC": -250,
        "maxTempCentiC": 800,
        "minHumidityCentiPct": 3000,
        "maxHumidityCentiPct": 8500,
        "maxShockMilliG": 2500,
        "graceMinutes": 15,
        "penaltyBpsPerMinute": 25,
        "penaltyBpsPerShock": 40,
        "penaltyBpsPerLateHour": 10,
        "penaltyCapBps": 5000,
        "maxGapMinutes": 30,
        "fundBy": 1_899_000_000,
        "deadline": 1_900_000_000,
        "refundGrace": 259_200,
        "disputeWindow": 172_800,
        "arbiter": "0x3000000000000000000000000000000000000003",
        "disputeTimeout": 604_800,
        "devicesRoot": DEVICES_ROOT,
        "destLatE7": 535_511_000,
        "destLonE7": -99_937_000,
        "destRadiusM": 500,
        "arrivalDwellMinutes": 20,
        "autoAcceptAfter": 7_200,
        "oracle": "0x7000000000000000000000000000000000000007",
    }
    terms_types = {"Terms": _fields(TERMS_V2)}
    terms_message = encode_typed_data(
        full_message={
            "types": {**_domain_types(), **terms_types},
            "primaryType": "Terms",
            "domain": domain,
            "message": terms,
        }
    )
    from eth_account._utils.encode_typed_data.encoding_and_hashing import hash_struct

    terms_hash = "0x" + hash_struct("Terms", terms_types, terms).hex()
    attestation = {
        "shipmentId": terms["shipmentId"],
        "termsHash": terms_hash,
        "evidenceRoot": "0x" + "ee" * 32,
        "excursionMinutes": 21,
        "shockCount": 2,
        "windowStart": 1_899_500_000,
        "deliveredAt": 1_899_900_000,
        "deliveryBasis": 1,
    }
    att_types = {"DeliveryAttestation": _fields(ATTESTATION_V2)}
    att_message = encode_typed_data(
        full_message={
            "types": {**_domain_types(), **att_types},
            "primaryType": "DeliveryAttestation",
            "domain": domain,
            "message": attestation,
        }
    )
    signer = Account.from_key(SIGNER_KEY)
    terms_signed = signer.sign_message(terms_message)
    att_signed = signer.sign_message(att_message)
    vector = {
        "about": "Terms v2 / DeliveryAttestation v2 vector pinned by make_escrow_v2.py (DESIGN.md)",
        "typeStrings": {"Terms": TERMS_V2, "DeliveryAttestation": ATTESTATION_V2},
        "typeHashes": {
            "Terms": "0x" + keccak(text=TERMS_V2).hex(),
            "DeliveryAttestation": "0x" + keccak(text=ATTESTATION_V2).hex(),
        },
        "DEVICES_V1": "0x" + keccak(text="chaintrace.devices.v1").hex(),
        "devices": DEVICES,
        "domain": domain,
        "terms": {**terms, "amount": str(terms["amount"])},  # a JSON string: JS rounds it
        "termsHash": terms_hash,
        "termsDigest": "0x" + terms_signed.message_hash.hex(),
        "attestation": attestation,
        "attestationDigest": "0x" + att_signed.message_hash.hex(),
        "signerKey": SIGNER_KEY,
        "signer": signer.address,
        "termsSignature": "0x" + bytes(terms_signed.signature).hex(),
        "attestationSignature": "0x" + bytes(att_signed.signature).hex(),
    }
    path = Path(__file__).with_name("escrow_v2.json")
    path.write_text(json.dumps(vector, indent=2) + "\n")
    print(path)


def _domain_types() -> dict[str, list[dict[str, str]]]:
    return {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ]
    }


if __name__ == "__main__":
    main()
