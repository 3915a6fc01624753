"""Escrow v2 terms for chain tests: valid by default, signed by buyer, payee and carrier."""

from __future__ import annotations

import os
from typing import Any

from eth_account.signers.local import LocalAccount

from core import eip712
from core.device_set import devices_root

ETH = 10**18


def terms_v2(
    *,
    now: int,
    buyer: str,
    payee: str,
    carrier: str,
    arbiter: str,
    oracle: str,
    devices: list[str],
    **overrides: Any,
) -> eip712.TermsV2:
    """Terms v2 in ETH: deadline a day after `now`, 500 m fence, 20 min dwell, 2 h auto-accept."""
    fields: dict[str, Any] = {
        "shipment_id": os.urandom(32),
        "buyer": buyer,
        "payee": payee,
        "carrier": carrier,
        "token": "0x" + "00" * 20,
        "amount": 2 * ETH,
        "min_temp_centi_c": 200,
        "max_temp_centi_c": 800,
        "min_humidity_centi_pct": 0,
        "max_humidity_centi_pct": 0,
        "max_shock_milli_g": 0,
        "grace_minutes": 15,
        "penalty_bps_per_minute": 25,
        "penalty_bps_per_shock": 0,
        "penalty_bps_per_late_hour": 0,
        "penalty_cap_bps": 5000,
        "max_gap_minutes": 30,
        "fund_by": now + 3_600,
        "deadline": now + 86_400,
        "refund_grace": 4 * 3_600,
        "dispute_window": 7_200,
        "arbiter": arbiter,
        "dispute_timeout": 86_400,
        "devices_root": devices_root(devices),
        "dest_lat_e7": 535_511_000,
        "dest_lon_e7": -99_937_000,
        "dest_radius_m": 500,
        "arrival_dwell_minutes": 20,
        "auto_accept_after": 7_200,
        "oracle": oracle,
    }
    fields.update(overrides)
    return eip712.TermsV2(**fields)


def signatures(
    terms: eip712.TermsV2, domain: eip712.Domain, *signers: LocalAccount
) -> tuple[bytes, ...]:
    """Each signer's EIP-712 signature over the terms."""
    return tuple(eip712.sign(terms, domain, s.key) for s in signers)
