"""What the oracle attests for a shipment: delivery time, excursion minutes and evidence root.

Everything comes from the store except the terms' hash, which comes from the escrow: terms
from the store count only if they hash to what the chain holds. Readings count only if their
EIP-712 digest recomputes from their fields and their signature recovers to their device.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from chain.errors import ChainValueError
from core.eip712 import Domain, Reading, Terms, TermsV2, reading_digest, terms_hash
from core.errors import CoreValueError
from core.evidence import evidence_root
from core.hexstr import hex0x
from core.signature import recover_digest
from core.sla import ExcursionReport, SlaPolicy, SlaReading, excursion_minutes
from store.models import Reading as ReadingRow
from store.models import Shipment
from store.queries import readings_for_shipment, shipment_events

_LOGGER = logging.getLogger(__name__)

_UINT32_MAX = 2**32 - 1
T = TypeVar("T", Terms, TermsV2)


class DeliveryError(ChainValueError):
    """The store's record of a shipment cannot support an attestation (yet); says why."""


class TermsMismatch(DeliveryError):
    """The terms in the store do not hash to the terms hash the escrow holds."""


@dataclass(frozen=True)
class DeliveryFacts:
    """The attestation's inputs, and how they were derived (for logs and the store)."""

    shipped_at_ms: int
    delivered_at_ms: int
    excursion_minutes: int
    evidence_root: bytes
    evidence: tuple[bytes, ...]  # the verified readings' digests the root is built over
    readings_used: int
    readings_rejected: int
    minutes_by_device: dict[str, int]

    @property
    def delivered_at(self) -> int:
        """The attestation's deliveredAt: unix seconds of the receiving event."""
        return self.delivered_at_ms // 1000


def verified_terms(shipment: Shipment, chain_terms_hash: bytes) -> Terms:
    """The shipment's Terms v1 from the store, if they hash to what the escrow holds."""
    return stored_terms(shipment, chain_terms_hash, Terms)


def stored_terms(shipment: Shipment, chain_terms_hash: bytes, terms_type: type[T]) -> T:
    """The shipment's terms of `terms_type` (v1 or v2) from the store, if they hash to what
    the escrow holds."""
    try:
        terms = terms_type.from_json(json.loads(shipment.terms_json))
    except (ValueError, TypeError) as exc:  # json and Eip712Error are both ValueErrors
        raise TermsMismatch(f"stored terms are not valid {terms_type.__name__}: {exc}") from None
    if hex0x(terms.shipment_id) != shipment.shipment_id.lower():
        raise TermsMismatch("stored terms name another shipment")
    computed = terms_hash(terms)
    if computed != chain_terms_hash:
        raise TermsMismatch(
            f"stored terms hash to 0x{computed.hex()}, the escrow holds 0x{chain_terms_hash.hex()}"
        )
    return terms


def first_step_time(session: Session, shipment: Shipment, biz_step: str) -> int | None:
    """The earliest time of the shipment's EPCIS events with this bizStep (not corrections)."""
    times = [
        record.event.event_time_ms
        for record in shipment_events(session, shipment.id)
        if record.event.biz_step == biz_step and record.event.kind == 0
    ]
    return min(times) if times else None


def reading_of(row: ReadingRow) -> Reading:
    """The signed Reading a stored row holds."""
    return Reading(
        device=row.device_address,
        seq=row.seq,
        taken_at_ms=row.taken_at_ms,
        temperature_centi_c=row.temperature_centi_c,
        humidity_centi_pct=row.humidity_centi_pct,
        shock_milli_g=row.shock_milli_g,
        lat_e7=row.lat_e7,
        lon_e7=row.lon_e7,
    )


def verified_digest(row: ReadingRow, domain: Domain) -> bytes | None:
    """The reading's digest if it recomputes and the device signed it, else None."""
    try:
        reading = reading_of(row)
        digest = reading_digest(reading, domain)
        if digest != bytes(row.digest):
            return None
        if recover_digest(digest, bytes(row.signature)) != reading.device:
            return None
    except CoreValueError:
        return None
    return digest


@dataclass(frozen=True)
class SlaWindow:
    """A v1 shipment's verified readings over a window and core.sla's report per device."""

    readings: tuple[ReadingRow, ...]  # verified, by time
    digests: tuple[bytes, ...]
    rejected: int
    reports: dict[str, ExcursionReport]  # by device; "" for none at all

    @property
    def excursion_minutes(self) -> int:
        """The shipment's minutes: its worst device's."""
        return min(max(r.total_minutes for r in self.reports.values()), _UINT32_MAX)


def sla_window(
    session: Session,
    shipment: Shipment,
    terms: Terms,
    anchor_domain: Domain,
    start_ms: int,
    end_ms: int,
) -> SlaWindow:
    """core.sla over the shipment's verified readings taken in [start_ms, end_ms] (the
    attestation's window once received; up to now for the display while in transit)."""
    allowed = {device.address.lower() for device in shipment.devices}
    by_device: dict[str, list[SlaReading]] = {}
    kept: list[ReadingRow] = []
    digests: list[bytes] = []
    rejected = 0
    for row in readings_for_shipment(session, shipment.id, since_ms=start_ms):
        if row.taken_at_ms > end_ms:
            break  # ordered by time
        if allowed and row.device_address.lower() not in allowed:
            rejected += 1
            continue
        digest = verified_digest(row, anchor_domain)
        if digest is None:
            rejected += 1
            continue
        kept.append(row)
        digests.append(digest)
        by_device.setdefault(row.device_address, []).append(
            SlaReading(row.seq, row.taken_at_ms, row.temperature_centi_c)
        )
    if rejected:
        _LOGGER.warning("shipment %s: %d readings rejected", shipment.shipment_id, rejected)

    policy = SlaPolicy.from_terms(terms)
    # Each device has its own seq numbering; the shipment counts its worst device. No device
    # at all means no evidence: the whole window counts (silence is not compliance).
    reports = {
        device: excursion_minutes(readings, policy, start_ms, end_ms)
        for device, readings in by_device.items()
    } or {"": excursion_minutes([], policy, start_ms, end_ms)}
    return SlaWindow(tuple(kept), tuple(digests), rejected, reports)


def delivery_facts(
    session: Session, shipment: Shipment, terms: Terms, anchor_domain: Domain
) -> DeliveryFacts:
    """Excursion minutes over shipping..receiving from verified readings, and their evidence."""
    shipped = first_step_time(session, shipment, "shipping")
    delivered = first_step_time(session, shipment, "receiving")
    if delivered is None:
        raise DeliveryError("no receiving event recorded")
    if shipped is None:
        # Without a start the window would open at the first reading: silence before it free.
        raise DeliveryError("no shipping event recorded: the SLA window has no start")
    if delivered < shipped:
        raise DeliveryError(f"received at {delivered} ms, before shipping at {shipped} ms")

    window = sla_window(session, shipment, terms, anchor_domain, shipped, delivered)
    minutes = {device: report.total_minutes for device, report in window.reports.items()}
    return DeliveryFacts(
        shipped_at_ms=shipped,
        delivered_at_ms=delivered,
        excursion_minutes=window.excursion_minutes,
        evidence_root=evidence_root(window.digests),
        evidence=window.digests,
        readings_used=len(window.digests),
        readings_rejected=window.rejected,
        minutes_by_device=minutes,
    )


def split_deposit(
    amount: int, excursion_minutes: int, penalty_bps_per_minute: int, penalty_cap_bps: int
) -> tuple[int, int]:
    """(payout, refund) per docs/formats.md "Settlement arithmetic"; payout + refund = amount."""
    penalty_bps = min(excursion_minutes * penalty_bps_per_minute, penalty_cap_bps)
    penalty = amount * penalty_bps // 10_000
    return amount - penalty, penalty
