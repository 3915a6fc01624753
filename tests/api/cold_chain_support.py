"""Synthetic cold-chain legs made the way the item view makes them: core.shipment_report over
escrow v2 terms and readings, then api.cold_chain's leg (no store, no chain)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from api.cold_chain import cold_chain_leg, facts_of_report
from core.device_set import devices_root
from core.eip712 import Reading, TermsV2, anchor_domain, reading_digest
from core.shipment_report import Receiving, VerifiedReading, shipment_report

DOMAIN = anchor_domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
DEVICES = (
    "0x4000000000000000000000000000000000000004",
    "0x5000000000000000000000000000000000000005",
)
PARTY = "0x1000000000000000000000000000000000000001"
T0 = 1_900_000_000  # shipping, unix seconds
AMOUNT = 987_654_321_000_000_000  # a deposit whose digits would show if an amount leaked


def terms(**overrides: Any) -> TermsV2:
    """Escrow v2 terms: 2-8 degC, 30-85 % humidity, 2.5 g shock limit, 15 minutes' grace."""
    fields: dict[str, Any] = {
        "shipment_id": b"\x5a" * 32,
        "buyer": PARTY,
        "payee": PARTY,
        "carrier": PARTY,
        "token": "0x" + "00" * 20,
        "amount": AMOUNT,
        "min_temp_centi_c": 200,
        "max_temp_centi_c": 800,
        "min_humidity_centi_pct": 3_000,
        "max_humidity_centi_pct": 8_500,
        "max_shock_milli_g": 2_500,
        "grace_minutes": 15,
        "penalty_bps_per_minute": 10,
        "penalty_bps_per_shock": 40,
        "penalty_bps_per_late_hour": 25,
        "penalty_cap_bps": 5_000,
        "max_gap_minutes": 30,
        "fund_by": T0 - 3_600,
        "deadline": T0 + 30 * 86_400,
        "refund_grace": 3 * 86_400,
        "dispute_window": 86_400,
        "arbiter": PARTY,
        "dispute_timeout": 7 * 86_400,
        "devices_root": devices_root(DEVICES),
        "dest_lat_e7": 535_511_000,
        "dest_lon_e7": 99_937_000,
        "dest_radius_m": 500,
        "arrival_dwell_minutes": 20,
        "auto_accept_after": 7_200,
        "oracle": PARTY,
    }
    return TermsV2(**{**fields, **overrides})


Profile = Callable[[int, int], tuple[int, int, int]]  # (device, i) -> (centi-degC, centi-%, mg)


def steady(device: int, i: int) -> tuple[int, int, int]:
    return 450 + (i % 5) * 10 + device * 30, 5_000, 100


def readings(count: int, step_s: int, profile: Profile = steady) -> list[VerifiedReading]:
    """`count` readings per device, one every `step_s` from T0, far from the destination."""
    made = []
    for d, device in enumerate(DEVICES):
        for i in range(count):
            c, rh, g = profile(d, i)
            r = Reading(device, i + 1, (T0 + i * step_s) * 1000, c, rh, g, 10_000_000, 10_000_000)
            made.append(VerifiedReading(r, reading_digest(r, DOMAIN)))
    return made


def leg(
    made: list[VerifiedReading], received_at: int, agreed: TermsV2 | None = None
) -> dict[str, Any]:
    """The delivered leg of these readings under `agreed` (default terms())."""
    agreed = agreed or terms()
    report = shipment_report(
        agreed,
        DEVICES,
        made,
        now=received_at + 60,
        funded_at=T0 - 600,
        shipped_at_ms=T0 * 1000,
        receiving=Receiving(received_at * 1000),
    )
    counted = {v.digest for v in made} & set(report.evidence)
    facts = facts_of_report(agreed, report, [v.reading for v in made if v.digest in counted])
    return cold_chain_leg(facts)


def english(msgid: str) -> str:
    return msgid


def short_time(moment: datetime) -> str:
    return moment.strftime("%-d %b, %H:%M")
