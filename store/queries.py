"""Read queries: an item's history with proofs, a shipment's readings, an event's anchoring."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from store._validate import bytes_of, checksum_address
from store.errors import NotFoundError
from store.models import AnchorBatch, Event, Item, Leaf, Product, Reading, event_items
from store.models.events import MEMBER_KIND


class EventRecord(NamedTuple):
    """An event with its leaf (None only if never queued) and its batch (None while pending)."""

    event: Event
    leaf: Leaf | None
    batch: AnchorBatch | None


def find_item(session: Session, gtin: str, serial: str) -> Item | None:
    """The item (gtin, serial), or None."""
    stmt = select(Item).join(Product).where(Product.gtin == gtin, Item.serial == serial)
    return session.scalars(stmt).one_or_none()


def item_history(session: Session, gtin: str, serial: str) -> list[EventRecord]:
    """Every event naming the item (and its commissioning event), by event time then id."""
    item = find_item(session, gtin, serial)
    if item is None:
        raise NotFoundError(f"no item with GTIN {gtin} and serial {serial!r}")
    linked = select(event_items.c.event_id).where(event_items.c.item_id == item.id)
    stmt = (
        select(Event, Leaf, AnchorBatch)
        .outerjoin(Leaf, and_(Leaf.event_id == Event.id, Leaf.kind < MEMBER_KIND))
        .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
        .where(or_(Event.id.in_(linked), Event.id == item.commission_event_id))
        .order_by(Event.event_time_ms, Event.id)
    )
    return [EventRecord(event, leaf, batch) for event, leaf, batch in session.execute(stmt)]


def event_record(session: Session, kind: int, event_hash: bytes) -> EventRecord | None:
    """The event (kind, event_hash) with its leaf and batch, or None."""
    event_hash = bytes_of(event_hash, 32, "event_hash")
    stmt = (
        select(Event, Leaf, AnchorBatch)
        .outerjoin(Leaf, and_(Leaf.event_id == Event.id, Leaf.kind < MEMBER_KIND))
        .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
        .where(Event.kind == kind, Event.event_hash == event_hash)
    )
    row = session.execute(stmt).one_or_none()
    return None if row is None else EventRecord(row[0], row[1], row[2])


def shipment_events(session: Session, shipment_pk: int) -> list[EventRecord]:
    """A shipment's events (by its integer id) in event-time order, with leaves and batches."""
    stmt = (
        select(Event, Leaf, AnchorBatch)
        .outerjoin(Leaf, and_(Leaf.event_id == Event.id, Leaf.kind < MEMBER_KIND))
        .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
        .where(Event.shipment_id == shipment_pk)
        .order_by(Event.event_time_ms, Event.id)
    )
    return [EventRecord(event, leaf, batch) for event, leaf, batch in session.execute(stmt)]


def readings_for_shipment(
    session: Session,
    shipment_pk: int,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int | None = None,
) -> list[Reading]:
    """A shipment's readings by time (then device, seq); `since_ms` inclusive, `until_ms` not."""
    stmt = select(Reading).where(Reading.shipment_id == shipment_pk)
    if since_ms is not None:
        stmt = stmt.where(Reading.taken_at_ms >= since_ms)
    if until_ms is not None:
        stmt = stmt.where(Reading.taken_at_ms < until_ms)
    stmt = stmt.order_by(Reading.taken_at_ms, Reading.device_address, Reading.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def readings_of_devices(
    session: Session, devices: Iterable[str], *, since_ms: int, until_ms: int
) -> list[Reading]:
    """Every stored reading of these devices taken in [since_ms, until_ms), whatever shipment
    it was filed under (escrow v2 counts a reading for every shipment whose set and window hold
    it); ordered by device, time, seq."""
    addresses = sorted({checksum_address(d, "device") for d in devices})
    stmt = (
        select(Reading)
        .where(
            Reading.device_address.in_(addresses),
            Reading.taken_at_ms >= since_ms,
            Reading.taken_at_ms < until_ms,
        )
        .order_by(Reading.device_address, Reading.taken_at_ms, Reading.seq)
    )
    return list(session.scalars(stmt))


def batch_leaves(session: Session, batch_id: int) -> list[Leaf]:
    """A batch's leaves in leaf_index order (the order its tree was built in)."""
    stmt = select(Leaf).where(Leaf.batch_id == batch_id).order_by(Leaf.leaf_index)
    return list(session.scalars(stmt))
