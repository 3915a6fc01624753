"""A device's signed reading as a row for store.insert_readings, once for every test."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount

from core.eip712 import Reading, anchor_domain, reading_digest, sign
from tests.utils.anvil import ChainEnv

BERLIN = (523_456_789, 134_567_890)  # lat, lon in 1e-7 degrees


def signed_reading_row(
    env: ChainEnv,
    key: LocalAccount,
    seq: int,
    at_ms: int,
    temp: int,
    *,
    device: str | None = None,
    pos: tuple[int, int] = BERLIN,
) -> dict[str, Any]:
    """A reading of `device` (default: the key's address) signed by `key` under the deployed
    TraceAnchor's domain: 55 % humidity, 20 mg shock, at `pos`."""
    device = device or key.address
    reading = Reading(device, seq, at_ms, temp, 5500, 20, *pos)
    domain = anchor_domain(env.w3.eth.chain_id, env.deployment.trace_anchor)
    return {
        "device_address": device,
        "seq": seq,
        "taken_at_ms": at_ms,
        "temperature_centi_c": temp,
        "humidity_centi_pct": 5500,
        "shock_milli_g": 20,
        "lat_e7": pos[0],
        "lon_e7": pos[1],
        "signature": sign(reading, domain, key.key),
        "digest": reading_digest(reading, domain),
    }
