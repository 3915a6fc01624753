"""The worked signing example of docs/devices.md, computed (a test keeps the doc in step)."""

from __future__ import annotations

import hashlib
import json

from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak

from core.eip712 import Reading, anchor_domain, domain_separator, reading_digest, sign, struct_hash
from core.hexstr import hex0x
from device.client import reading_payload
from device.mqtt_link import readings_topic

EXAMPLE_CHAIN_ID = 31337
EXAMPLE_ANCHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
# A published test key: never use it for a real device.
EXAMPLE_KEY = hashlib.sha256(b"chaintrace docs example device").digest()


def worked_example() -> dict[str, str]:
    """Every value the device guide shows, as the strings it shows them."""
    address = Account.from_key(EXAMPLE_KEY).address
    domain = anchor_domain(EXAMPLE_CHAIN_ID, EXAMPLE_ANCHOR)
    reading = Reading(
        device=address,
        seq=42,
        taken_at_ms=1_767_225_600_000,  # 2026-01-01T00:00:00Z
        temperature_centi_c=-1850,  # -18.50 degC: negative int32, two's complement
        humidity_centi_pct=6543,
        shock_milli_g=120,
        lat_e7=523_456_789,
        lon_e7=134_567_890,
    )
    # The bytes that are hashed into the struct hash: typeHash then one 32-byte word per field.
    encoded = encode(
        ["bytes32", "address", "uint64", "uint64", "int32", "uint32", "uint32", "int32", "int32"],
        [
            Reading.TYPE_HASH,
            reading.device,
            reading.seq,
            reading.taken_at_ms,
            reading.temperature_centi_c,
            reading.humidity_centi_pct,
            reading.shock_milli_g,
            reading.lat_e7,
            reading.lon_e7,
        ],
    )
    if keccak(encoded) != struct_hash(reading):
        raise AssertionError("eth-abi and core.eip712 disagree on the Reading encoding")
    signature = sign(reading, domain, EXAMPLE_KEY)
    payload = reading_payload(reading, signature)
    return {
        "private_key": hex0x(EXAMPLE_KEY),
        "address": address,
        "topic": readings_topic(address),
        "domain_separator": hex0x(domain_separator(domain)),
        "type_hash": hex0x(Reading.TYPE_HASH),
        "encoded": "\n".join(encoded[i : i + 32].hex() for i in range(0, len(encoded), 32)),
        "struct_hash": hex0x(struct_hash(reading)),
        "digest": hex0x(reading_digest(reading, domain)),
        "signature": hex0x(signature),
        "payload": payload.decode(),
        "payload_pretty": json.dumps(json.loads(payload), indent=2),
    }


if __name__ == "__main__":
    for name, value in worked_example().items():
        print(f"{name}: {value}")
