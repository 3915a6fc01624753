"""An item's public history: per event, only its public projection for the item's EPC (DESIGN.md
"Public and private views") with the kind 2 leaf's salt, proof, root, transaction and finality;
nothing else of the event (no other EPC, device, shipment, position finer than 2 decimals, full
event hash or eventID)."""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.event_summary import describe
from api.finality import finality_of
from core.digital_link import parse_link
from core.epcis.events import short_biz_step
from core.epcis.projection import projected_epcs, projection, projection_hash
from core.gs1 import normalize_gtin, parse_sgtin_urn
from core.hexstr import hex0x
from store.commissioning import commissioning_of_batch
from store.models import AnchorBatch, Location, Reading, Shipment

_LOGGER = logging.getLogger(__name__)

TITLES = {
    "commissioning": "Commissioned",
    "shipping": "Shipped",
    "arriving": "Arrived",
    "receiving": "Received",
    "sensor_reporting": "Sensor report",
    "decommissioning": "Decommissioned",
    "inspecting": "Inspected",
}
NOT_YET_PROVEN = (
    "Not yet proven: this event was anchored before public projections were, so no proof of "
    "this projection exists yet; it is shown as the event gives it now and gains its proof "
    "once the backfill anchors it."
)


def names_item(epc: str, gtin14: str, serial: str) -> bool:
    """Whether an EPC (SGTIN URN or Digital Link) is the item (gtin14, serial)."""
    try:
        if epc.startswith("urn:"):
            parsed = parse_sgtin_urn(epc)
            return parsed.gtin == gtin14 and parsed.serial == serial
        if epc.startswith(("http://", "https://")):
            gtin, found = parse_link(epc)
            return normalize_gtin(gtin) == gtin14 and found == serial
    except ValueError:
        return False
    return False


def item_epc_in(event: Mapping[str, Any], gtin14: str, serial: str) -> str | None:
    """The EPC, as the event writes it, under which the event projects the item (None if it
    projects no EPC of the item: another event type, or the item only as an aggregation's
    parent)."""
    for found in projected_epcs(event):
        if names_item(found.epc, gtin14, serial):
            return found.epc
    return None


def public_location_ids(session: Session) -> set[str]:
    """The location ids whose owners made them public (store/locations.py)."""
    return set(session.scalars(select(Location.location_id).where(Location.public.is_(True))))


def display_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _event_time_ms(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _place(session: Session, location_id: str | None) -> str | None:
    """A public location's registered name, else its id (public, since the projection kept it)."""
    if location_id is None:
        return None
    name = session.scalar(
        select(Location.name).where(Location.location_id == location_id, Location.public)
    )
    return name or location_id


def readings_summary(session: Session, shipment: Shipment, until_ms: int) -> dict[str, Any] | None:
    """Count and temperature range of a shipment's readings up to an event's time."""
    count, low, high = session.execute(
        select(
            func.count(),
            func.min(Reading.temperature_centi_c),
            func.max(Reading.temperature_centi_c),
        ).where(Reading.shipment_id == shipment.id, Reading.taken_at_ms <= until_ms)
    ).one()
    if not count:
        return None
    return {
        "readings": int(count),
        "minTemperatureC": low / 100,
        "maxTemperatureC": high / 100,
        "excursionMinutes": shipment.excursion_minutes,
    }


def described(
    session: Session, projected: Mapping[str, Any], shipment_pk: int | None, time_ms: int
) -> dict[str, Any]:
    """What a reader wants, from the projection only: step, time, place, coarse geo, the sensor
    statistics; the receiving of a shipment sums up the whole trip's readings (a count and a
    range: nothing of a device or a position)."""
    details = describe(projected)
    step = short_biz_step(projected.get("bizStep"))
    summary = None
    temps = (details["sensors"] or {}).get("Temperature")
    if temps:
        summary = {
            "readings": None,  # a window's count is not in the projection
            "minTemperatureC": temps["min"],
            "maxTemperatureC": temps["max"],
            "excursionMinutes": None,
        }
    elif step == "receiving" and shipment_pk is not None:
        shipment = session.get(Shipment, shipment_pk)
        if shipment is not None:
            summary = readings_summary(session, shipment, time_ms)
    event_type = str(projected.get("type"))
    return {
        "type": event_type,
        "bizStep": step,
        "title": TITLES.get(step or "", (step or event_type).replace("_", " ")),
        "eventTime": projected.get("eventTime"),
        "displayTime": display_time(_event_time_ms(projected.get("eventTime")) or time_ms),
        "place": _place(session, details["bizLocation"] or details["readPoint"]),
        "geo": details["gps"],  # from the projection's geo URI: 2 decimals at most
        "sensorSummary": summary,
    }


def projection_now(
    event: Mapping[str, Any], epc: str, public: Container[str]
) -> tuple[dict[str, Any], str] | None:
    """P(event, epc) as the event gives it now and its hash (0x), or None if it cannot be made."""
    try:
        projected = projection(event, epc, public)
        return projected, hex0x(projection_hash(projected))
    except ValueError as exc:
        _LOGGER.warning("no projection of an event for %s: %s", epc, exc)
        return None


class ProvenProjection(NamedTuple):
    """A kind 2 leaf of the item's EPC in one event: its projection, salt, leaf, proof and batch."""

    projection: dict[str, Any]
    projection_hash: bytes
    salt: bytes
    leaf: bytes
    proof: list[str] | None
    batch: AnchorBatch | None


def anchoring_of(
    session: Session, batch: AnchorBatch | None, contracts: Mapping[int, str]
) -> dict[str, Any]:
    """Where a root is: status, root, transaction, block, the brand that signed it, contract."""
    commissioning = commissioning_of_batch(session, batch.root) if batch is not None else None
    return {
        "status": batch.status.value if batch is not None else "pending",
        "root": hex0x(batch.root) if batch is not None else None,
        "txHash": batch.tx_hash if batch is not None else None,
        "blockNumber": batch.block_number if batch is not None else None,
        "signedByBrand": commissioning.brand if commissioning else None,
        # The TraceAnchor release the root goes to (None without a chain).
        "contract": contracts.get(batch.anchor_version) if batch is not None else None,
    }


def proven_entry(
    session: Session, proven: ProvenProjection, contracts: Mapping[int, str]
) -> dict[str, Any]:
    """The proof fields of a projection in an anchored (or queued) kind 2 leaf."""
    batch = proven.batch
    return {
        "projection": proven.projection,
        "projectionHash": hex0x(proven.projection_hash),
        "proven": True,
        "salt": hex0x(proven.salt),
        "leaf": hex0x(proven.leaf),
        "proof": proven.proof,
        "root": hex0x(batch.root) if batch is not None else None,
        "finality": finality_of(batch),
        "anchoring": anchoring_of(session, batch, contracts),
        "note": None,
    }


def unproven_entry(projected: dict[str, Any], digest: str) -> dict[str, Any]:
    """A projection with no kind 2 leaf yet: shown without proof, and saying so."""
    return {
        "projection": projected,
        "projectionHash": digest,
        "proven": False,
        "salt": None,
        "leaf": None,
        "proof": None,
        "root": None,
        "finality": "unproven",
        "anchoring": None,
        "note": NOT_YET_PROVEN,
    }
