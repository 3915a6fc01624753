"""An item's public history: per event, only its public projection for the item's EPC (DESIGN.md
"Public and private views") with the kind 2 leaf's salt, proof, root, transaction and finality;
nothing else of the event (no other EPC, device, shipment, position finer than 2 decimals, full
event hash or eventID)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.event_summary import describe
from core.digital_link import parse_link
from core.epcis.events import short_biz_step
from core.epcis.projection import projected_epcs, projection, projection_hash
from core.gs1 import normalize_gtin, parse_sgtin_urn
from core.hexstr import hex0x
from store.member_leaves import MemberLeaf
from store.models import Location, Reading, Shipment
from store.projections import location_ids, public_location_ids

_LOGGER = logging.getLogger(__name__)

TITLES = {
    "commissioning": "Commissioned",
    "packing": "Packed",
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
    session: Session, event: Mapping[str, Any], epc: str
) -> tuple[dict[str, Any], str] | None:
    """P(event, epc) as the store would make it now (store/projections.py: the locations public
    now) and its hash (0x), or None if it cannot be made."""
    try:
        projected = projection(event, epc, public_location_ids(session, location_ids(event)))
        return projected, hex0x(projection_hash(projected))
    except ValueError as exc:
        _LOGGER.warning("no projection of an event for %s: %s", epc, exc)
        return None


def proven_entry(member: MemberLeaf, contracts: Mapping[int, str]) -> dict[str, Any]:
    """The proof fields of a projection in a kind 2 leaf (batched, or still queued)."""
    assert member.projection is not None and member.projection_hash is not None
    assert member.salt is not None
    root = hex0x(member.root) if member.root is not None else None
    version = member.anchor_version
    return {
        "projection": member.projection,
        "projectionHash": hex0x(member.projection_hash),
        "proven": True,
        "salt": hex0x(member.salt),
        "leaf": hex0x(member.leaf),
        "proof": member.proof,
        "root": root,
        "finality": member.finality,
        "anchoring": {
            "status": member.status,
            "root": root,
            "txHash": member.tx_hash,
            "blockNumber": member.block_number,
            "signedByBrand": member.signed_by_brand,
            # The TraceAnchor release the root goes to (None without a chain).
            "contract": contracts.get(version) if version is not None else None,
        },
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
