"""An item's cold chain for the public view: per shipment it travelled in, the agreed bands and
window from its terms, the excursion minutes and episodes the settlement counts, and a bounded
series of its readings for the chart (api/cold_chain_chart.py).

The numbers come from the settlement's own functions (chain.settlement: core.sla for escrow v1,
core.shipment_report for v2), over the terms the followed escrow holds: never a second
computation that could disagree with what the oracle attests. Nothing of the shipment's parties
is shown: no amounts or penalties, no device ids (sensors are numbered), no shipment id, no
wallet, no position.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from api.cold_chain_series import BUCKETS, SeriesPoint, downsample, measures
from api.errors import ChainUnavailable
from api.signing import trace_anchor_domain
from api.state import ChainAccess
from chain.settlement.attestation import (
    DeliveryError,
    reading_of,
    sla_window,
    verified_terms,
)
from chain.settlement.attestation_v2 import shipment_facts, verified_terms_v2
from core.eip712 import Domain, Reading, Terms, TermsV2
from core.epcis.events import iso_ms
from core.shipment_report import ShipmentReport
from core.sla import Episode
from store.chain_view import chain_logs, escrow_view, followed_tip, log_time
from store.models import EscrowView, Item, Shipment
from store.queries import readings_of_devices
from store.shipments import readings_fingerprint, shipments_of_item, step_events

# Received legs by everything they are computed from (api/cold_chain.py _leg), newest last.
CACHE_SIZE = 4096
_CACHE: OrderedDict[tuple[object, ...], dict[str, Any]] = OrderedDict()
_LOCK = threading.Lock()


@dataclass
class LegFacts:
    """One shipment's leg before it is worded as JSON."""

    terms: Terms | TermsV2
    start_ms: int
    end_ms: int
    delivered: bool
    minutes: int
    shocks: int | None
    episodes: list[tuple[int, Episode]] = field(default_factory=list)  # (sensor, episode)
    readings: dict[int, list[Reading]] = field(default_factory=dict)  # sensor -> by time


def item_cold_chain(session: Session, item: Item, chain: ChainAccess) -> dict[str, Any] | None:
    """`coldChain` of the item view: {"legs": [...]} per shipment that carried the item since
    its shipping, or None (no such shipment, or no chain to check the terms against)."""
    try:
        domain = trace_anchor_domain(chain)
    except ChainUnavailable:
        return None
    legs = []
    for shipment in shipments_of_item(session, item.id):
        leg = _leg(session, shipment, domain)
        if leg is not None:
            legs.append(leg)
    legs.sort(key=lambda leg: str(leg["window"]["start"]))
    return {"legs": legs} if legs else None


def _leg(session: Session, shipment: Shipment, domain: Domain) -> dict[str, Any] | None:
    """The shipment's leg (None: not shipped, not funded, or terms the escrow does not hold);
    once received, kept until its escrow, steps or readings change (checking a thousand
    signatures per scan would cost more than the whole page)."""
    view = escrow_view(session, shipment.shipment_id, shipment.terms_hash)
    shipped = _first(session, shipment, "shipping")
    if view is None or view.terms_hash is None or shipped is None:
        return None
    received = _first(session, shipment, "receiving")
    key = None
    if received is not None and received <= _now(session) * 1000:
        key = (
            shipment.id,
            shipment.terms_hash,
            view.state,
            view.block_number,
            view.tx_hash,
            shipped,
            received,
            readings_fingerprint(session, shipment, shipped, received + 1000),
            domain.verifying_contract,
        )
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return copy.deepcopy(_CACHE[key])
    facts = _facts(session, shipment, view, shipped, domain)
    leg = cold_chain_leg(facts) if facts is not None else None
    if key is not None and leg is not None:
        with _LOCK:
            _CACHE[key] = copy.deepcopy(leg)
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return leg


def _first(session: Session, shipment: Shipment, biz_step: str) -> int | None:
    """The time of the shipment's first event with this bizStep (what the settlement takes)."""
    events = step_events(session, shipment, biz_step)
    return events[0].event_time_ms if events else None


def _facts(
    session: Session, shipment: Shipment, view: EscrowView, shipped: int, domain: Domain
) -> LegFacts | None:
    """The settlement's view of a shipped shipment under the followed escrow's terms."""
    if view.terms_hash is None:
        return None
    chain_hash = bytes.fromhex(view.terms_hash.removeprefix("0x"))
    try:
        if shipment.escrow_version == 2:
            terms = verified_terms_v2(shipment, chain_hash)
            return _facts_v2(session, shipment, terms, domain, view.contract)
        return _facts_v1(session, shipment, verified_terms(shipment, chain_hash), domain, shipped)
    except DeliveryError:
        return None


def _now(session: Session) -> int:
    """Now in unix seconds: the chain's clock as followed, where it runs ahead of ours."""
    tip = followed_tip(session)
    return max(int(time.time()), tip.timestamp if tip is not None else 0)


def _sensors(devices: Iterable[str]) -> dict[str, int]:
    """Each device's public number (1, 2, ... in address order): its id stays private."""
    return {d.lower(): i for i, d in enumerate(sorted({d.lower() for d in devices}), 1)}


def _facts_v1(
    session: Session, shipment: Shipment, terms: Terms, domain: Domain, shipped: int
) -> LegFacts | None:
    received = _first(session, shipment, "receiving")
    end = received if received is not None else max(shipped, _now(session) * 1000)
    if end < shipped:
        return None
    window = sla_window(session, shipment, terms, domain, shipped, end)
    sensors = _sensors(r.device_address for r in window.readings)
    facts = LegFacts(terms, shipped, end, received is not None, window.excursion_minutes, None)
    for device, report in window.reports.items():
        sensor = sensors.get(device.lower(), 0)
        facts.episodes += [(sensor, e) for e in report.episodes]
    for row in window.readings:
        facts.readings.setdefault(sensors[row.device_address.lower()], []).append(reading_of(row))
    return facts


def _escrow_time(session: Session, shipment: Shipment, contract: str, event: str) -> int | None:
    """The block time of the escrow's latest `event` log about the shipment, as followed."""
    logs = chain_logs(session, shipment.shipment_id, [event])
    mine = [log for log in logs if log.contract.lower() == contract.lower()]
    return log_time(session, mine[-1]) if mine else None


def _facts_v2(
    session: Session, shipment: Shipment, terms: TermsV2, domain: Domain, contract: str
) -> LegFacts | None:
    funded_at = _escrow_time(session, shipment, contract, "ShipmentFunded")
    if funded_at is None:
        return None
    # Once attested: as of the attestation, over the readings it counted (the worker keeps
    # them), so a reading stored later changes nothing shown; else as of now.
    attested_at = _escrow_time(session, shipment, contract, "DeliveryAttested")
    stored = shipment.attested_evidence if attested_at is not None else None
    only = (
        None if stored is None else {bytes(stored[i : i + 32]) for i in range(0, len(stored), 32)}
    )
    now = attested_at if attested_at is not None else _now(session)
    report = shipment_facts(
        session, shipment, terms, domain, now=now, funded_at=funded_at, only=only
    ).report
    start_ms, end_ms = report.window_ms
    devices = [d.device for d in report.devices]
    evidence = set(report.evidence)
    counted: dict[bytes, Reading] = {}  # the report's evidence: exactly the readings it counted
    for row in readings_of_devices(session, devices, since_ms=start_ms, until_ms=end_ms + 1):
        digest = bytes(row.digest)
        if digest in evidence:
            counted.setdefault(digest, reading_of(row))
    return facts_of_report(terms, report, counted.values())


def facts_of_report(terms: TermsV2, report: ShipmentReport, counted: Iterable[Reading]) -> LegFacts:
    """An escrow v2 leg from core.shipment_report's report and the readings it counted."""
    start_ms, end_ms = report.window_ms
    sensors = _sensors(d.device for d in report.devices)
    facts = LegFacts(
        terms, start_ms, end_ms, report.delivered, report.excursion_minutes, report.shock_count
    )
    for device_report in report.devices:
        sensor = sensors[device_report.device.lower()]
        facts.episodes += [(sensor, e) for e in device_report.episodes]
    for reading in counted:
        facts.readings.setdefault(sensors[reading.device.lower()], []).append(reading)
    for readings in facts.readings.values():
        readings.sort(key=lambda r: (r.taken_at_ms, r.seq))
    return facts


def _deviation(centi_c: int, terms: Terms | TermsV2) -> int:
    return max(terms.min_temp_centi_c - centi_c, centi_c - terms.max_temp_centi_c, 0)


def _humidity_set(terms: Terms | TermsV2) -> bool:
    return isinstance(terms, TermsV2) and bool(
        terms.min_humidity_centi_pct or terms.max_humidity_centi_pct
    )


def _shock_set(terms: Terms | TermsV2) -> bool:
    return isinstance(terms, TermsV2) and bool(terms.max_shock_milli_g)


def _excursions(facts: LegFacts) -> list[dict[str, Any]]:
    """Out-of-band episodes of every sensor, overlapping ones merged, each with its peak
    (the temperature farthest outside the band; None for one outside the humidity band only)
    and the minutes its sensor's episode counts after the grace."""
    spans: list[list[Any]] = []  # [start, end, minutes, peak reading or None]
    for sensor, episode in sorted(facts.episodes, key=lambda se: se[1].start_ms):
        if episode.kind != "temperature":
            continue
        inside = [
            r
            for r in facts.readings.get(sensor, [])
            if episode.start_ms <= r.taken_at_ms
            and (r.taken_at_ms < episode.end_ms or r.taken_at_ms == episode.start_ms)
            and _deviation(r.temperature_centi_c, facts.terms)
        ]
        peak = max(
            inside, key=lambda r: _deviation(r.temperature_centi_c, facts.terms), default=None
        )
        minutes = episode.counted_minutes
        if spans and episode.start_ms <= spans[-1][1]:
            last = spans[-1]
            last[1] = max(last[1], episode.end_ms)
            last[2] = max(last[2], minutes)
            if peak is not None and (
                last[3] is None
                or _deviation(peak.temperature_centi_c, facts.terms)
                > _deviation(last[3].temperature_centi_c, facts.terms)
            ):
                last[3] = peak
            continue
        spans.append([episode.start_ms, episode.end_ms, minutes, peak])
    return [
        {
            "start": iso_ms(start),
            "end": iso_ms(end),
            "minutes": minutes,
            "cause": "temperature" if peak is not None else "humidity",
            "peakC": None if peak is None else peak.temperature_centi_c / 100,
            "peakAt": None if peak is None else iso_ms(peak.taken_at_ms),
        }
        for start, end, minutes, peak in spans
    ]


def _gaps(facts: LegFacts) -> list[dict[str, str]]:
    """Stretches without (enough) readings that count against the terms, merged over sensors."""
    spans: list[list[int]] = []
    for _, episode in sorted(facts.episodes, key=lambda se: se[1].start_ms):
        if episode.kind == "temperature" or not episode.counted_ms:
            continue
        if spans and episode.start_ms <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], episode.end_ms)
        else:
            spans.append([episode.start_ms, episode.end_ms])
    return [{"start": iso_ms(a), "end": iso_ms(b)} for a, b in spans]


def _peak(facts: LegFacts) -> dict[str, Any] | None:
    """The reading farthest outside the band; with none outside, the warmest."""
    readings = [r for rs in facts.readings.values() for r in rs]
    if not readings:
        return None
    peak = max(
        readings,
        key=lambda r: (_deviation(r.temperature_centi_c, facts.terms), r.temperature_centi_c),
    )
    return {"c": peak.temperature_centi_c / 100, "at": iso_ms(peak.taken_at_ms)}


def _series(facts: LegFacts) -> list[list[dict[str, Any]]]:
    humidity, shock = _humidity_set(facts.terms), _shock_set(facts.terms)
    watched = measures(humidity, shock)
    buckets = max(20, BUCKETS // max(1, len(facts.readings)))
    series = []
    for sensor in sorted(facts.readings):
        points = [
            SeriesPoint(
                r.taken_at_ms,
                r.temperature_centi_c / 100,
                r.humidity_centi_pct / 100 if humidity else None,
                r.shock_milli_g if shock else None,
            )
            for r in facts.readings[sensor]
        ]
        series.append(
            [
                {"at": iso_ms(p.at_ms), "c": p.c, "rh": p.rh, "g": p.g}
                for p in downsample(points, buckets, watched)
            ]
        )
    return series


def cold_chain_leg(facts: LegFacts) -> dict[str, Any]:
    """One leg of `coldChain` (the schema: api/schemas/resolver.py ColdChainLeg)."""
    terms = facts.terms
    humidity = None
    if isinstance(terms, TermsV2) and _humidity_set(terms):
        humidity = {
            "minPct": terms.min_humidity_centi_pct / 100 if terms.min_humidity_centi_pct else None,
            "maxPct": terms.max_humidity_centi_pct / 100 if terms.max_humidity_centi_pct else None,
        }
    shock = terms.max_shock_milli_g if isinstance(terms, TermsV2) and _shock_set(terms) else None
    return {
        "status": "delivered" if facts.delivered else "in_transit",
        "window": {"start": iso_ms(facts.start_ms), "end": iso_ms(facts.end_ms)},
        "band": {"minC": terms.min_temp_centi_c / 100, "maxC": terms.max_temp_centi_c / 100},
        "graceMinutes": terms.grace_minutes,
        "humidityBand": humidity,
        "maxShockMilliG": shock,
        "excursionMinutes": facts.minutes,
        "excursions": _excursions(facts),
        "gaps": _gaps(facts),
        "peak": _peak(facts),
        "shocks": facts.shocks if shock is not None else None,
        "readingCount": sum(len(rs) for rs in facts.readings.values()),
        "sensors": len(facts.readings),
        "series": _series(facts),
    }
