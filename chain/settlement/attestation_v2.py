"""Escrow v2: the store's facts for core.shipment_report, and the attestation it leads to.

Terms come from the store but count only if they hash to what ShipmentEscrow v2 holds. Which
readings count is decided here, not by where the gateway filed them: every stored reading of a
device in the terms' set, taken from the funding time on (core narrows it to the window), whose
digest recomputes and whose signature recovers to its device (DESIGN "which readings count").
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.orm import Session

from chain.settlement.attestation import DeliveryError, reading_of, stored_terms, verified_digest
from core.eip712 import Domain, TermsV2
from core.shipment_report import (
    Receiving,
    ShipmentReport,
    ShipmentReportError,
    VerifiedReading,
    shipment_report,
)
from store.models import Shipment
from store.queries import readings_of_devices
from store.shipments import step_events

# CBV 2.0 dispositions by which a consignee's receiving rejects the goods (DESIGN: a rejection
# never blocks payment; it makes the oracle attest at once and opens the dispute window early).
REJECTING_DISPOSITIONS = frozenset({"non_conformant", "damaged"})


@dataclass(frozen=True)
class ReportFacts:
    """A shipment's report and how many stored readings failed verification."""

    report: ShipmentReport
    readings_unverified: int


def verified_terms_v2(shipment: Shipment, chain_terms_hash: bytes) -> TermsV2:
    """The shipment's Terms v2 from the store, if they hash to what the escrow holds."""
    return stored_terms(shipment, chain_terms_hash, TermsV2)


def _disposition(event_json: str) -> str:
    """The event's CBV disposition as a bare word (`urn:epcglobal:cbv:disp:damaged` -> damaged)."""
    try:
        value = json.loads(event_json).get("disposition", "")
    except (ValueError, AttributeError):
        return ""
    return str(value).rsplit(":", 1)[-1]


def shipment_facts(
    session: Session,
    shipment: Shipment,
    terms: TermsV2,
    readings_domain: Domain,
    *,
    now: int,
    funded_at: int,
    only: Collection[bytes] | None = None,
) -> ReportFacts:
    """core.shipment_report over the store's shipping, receiving and device readings (`only`
    those with these digests: an attestation's evidence, to show what it counted)."""
    shipping = step_events(session, shipment, "shipping")
    receiving_events = step_events(session, shipment, "receiving")
    receiving = None
    if receiving_events:  # the API accepts one; the first recorded counts
        first = receiving_events[0]
        rejected = _disposition(first.event_json) in REJECTING_DISPOSITIONS
        receiving = Receiving(first.event_time_ms, rejected)
    devices = [device.address for device in shipment.devices]
    verified: list[VerifiedReading] = []
    unverified = 0
    rows = readings_of_devices(
        session, devices, since_ms=funded_at * 1000, until_ms=now * 1000 + 1000
    )
    for row in rows:
        if only is not None and bytes(row.digest) not in only:
            continue
        digest = verified_digest(row, readings_domain)
        if digest is None:
            unverified += 1
            continue
        verified.append(VerifiedReading(reading_of(row), digest))
    try:
        report = shipment_report(
            terms,
            devices,
            verified,
            now=now,
            funded_at=funded_at,
            shipped_at_ms=shipping[0].event_time_ms if shipping else None,
            receiving=receiving,
        )
    except ShipmentReportError as exc:  # e.g. the store's device set is not the terms'
        raise DeliveryError(str(exc)) from None
    return ReportFacts(report, unverified)
