"""Shipment lookups and status changes (forward only; refunded ends an unattested shipment).

The one step back is the chain follower's: a reorg that removes a shipment's funding moves it
from funded back to created (see follow_funding).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store._validate import hex32
from store.chain_view import escrow_view
from store.errors import InvalidTransitionError, StoreValueError
from store.models import EscrowView, Event, Reading, Shipment, ShipmentStatus, shipment_items

_ORDER = [
    ShipmentStatus.CREATED,
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
    ShipmentStatus.RECEIVED,
    ShipmentStatus.ATTESTED,
    ShipmentStatus.SETTLED,
]
# A refund needs funds in escrow and no attestation (DESIGN: no attestation by deadline + grace).
_REFUNDABLE = frozenset(
    {
        ShipmentStatus.FUNDED,
        ShipmentStatus.SHIPPING,
        ShipmentStatus.ARRIVED,
        ShipmentStatus.RECEIVED,
    }
)


def shipment_by_hex(session: Session, shipment_id: str) -> Shipment | None:
    """The shipment with this bytes32 id (0x-hex, any case), or None."""
    try:
        wanted = hex32(shipment_id, "shipment_id")
    except StoreValueError:
        return None
    return session.scalars(select(Shipment).where(Shipment.shipment_id == wanted)).one_or_none()


def shipments_of_item(session: Session, item_id: int) -> list[Shipment]:
    """The shipments listing an item (by its integer id), oldest first."""
    stmt = (
        select(Shipment)
        .join(shipment_items, shipment_items.c.shipment_id == Shipment.id)
        .where(shipment_items.c.item_id == item_id)
        .order_by(Shipment.id)
    )
    return list(session.scalars(stmt))


def readings_fingerprint(
    session: Session, shipment: Shipment, since_ms: int, until_ms: int
) -> tuple[int, int]:
    """(count, highest row id) of the readings filed under the shipment or taken by its devices
    in [since_ms, until_ms): changes whenever a reading that could count for it is stored."""
    devices = [device.address for device in shipment.devices]
    count, highest = session.execute(
        select(func.count(), func.max(Reading.id)).where(
            or_(Reading.shipment_id == shipment.id, Reading.device_address.in_(devices)),
            Reading.taken_at_ms >= since_ms,
            Reading.taken_at_ms < until_ms,
        )
    ).one()
    return int(count), int(highest or 0)


def lock_shipment(session: Session, shipment: Shipment) -> Shipment:
    """The shipment re-read under a row lock, for checks that must hold until the commit.

    PostgreSQL: SELECT ... FOR UPDATE, so two requests recording the same step on one shipment
    are serialised; SQLite: its writer (BEGIN IMMEDIATE) already holds the database.
    """
    session.execute(select(Shipment.id).where(Shipment.id == shipment.id).with_for_update())
    session.refresh(shipment)
    return shipment


def step_events(session: Session, shipment: Shipment, biz_step: str, kind: int = 0) -> list[Event]:
    """The shipment's events with this bizStep (kind 0: events, 1: errorDeclarations), by time."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.shipment_id == shipment.id, Event.biz_step == biz_step, Event.kind == kind)
            .order_by(Event.event_time_ms, Event.id)
        )
    )


def can_transition(current: ShipmentStatus, new: ShipmentStatus) -> bool:
    """Whether a shipment may move from `current` to `new` (steps may be skipped, never undone)."""
    if new is ShipmentStatus.REFUNDED:
        return current in _REFUNDABLE
    if current is ShipmentStatus.REFUNDED:
        return False
    return _ORDER.index(new) > _ORDER.index(current)


def set_shipment_status(
    session: Session, shipment: Shipment, status: ShipmentStatus | str
) -> Shipment:
    """Move a shipment forward, or InvalidTransitionError."""
    try:
        new = ShipmentStatus(status)
    except ValueError:
        raise StoreValueError(f"unknown shipment status {status!r}") from None
    if not can_transition(shipment.status, new):
        raise InvalidTransitionError(
            f"shipment {shipment.shipment_id}", shipment.status.value, new.value
        )
    shipment.status = new
    session.flush()
    return shipment


def funding_due(session: Session) -> bool:
    """Whether follow_funding would fund a shipment now: a read, for passes with nothing new."""
    stmt = (
        select(Shipment.id)
        .join(EscrowView, EscrowView.shipment_id == Shipment.shipment_id)
        .where(
            Shipment.status == ShipmentStatus.CREATED,
            EscrowView.terms_hash == Shipment.terms_hash,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


def follow_funding(session: Session, reorged: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """Align created/funded with the followed escrow view; (funded, unfunded) shipment ids.

    A created shipment whose deposit the view shows, under the shipment's own terms hash,
    becomes funded. A funded shipment among `reorged` (touched by a rollback) whose deposit the
    view no longer shows becomes created again: the chain it was funded on was abandoned.
    Shipments past funded (shipping, ...) keep their status: their parties' events moved them.
    """
    funded: list[str] = []
    rows = session.execute(
        select(Shipment, EscrowView)
        .join(
            EscrowView,
            (EscrowView.shipment_id == Shipment.shipment_id)
            & (EscrowView.terms_hash == Shipment.terms_hash),
        )
        .where(Shipment.status == ShipmentStatus.CREATED)
        .order_by(Shipment.id)
        # Row locks (PostgreSQL; SQLite's writer holds the database): a status a party's event
        # moved on meanwhile is read again after the lock, not overwritten.
        .with_for_update(of=Shipment)
    )
    for shipment, view in rows:
        if view.terms_hash == shipment.terms_hash:
            set_shipment_status(session, shipment, ShipmentStatus.FUNDED)
            funded.append(shipment.shipment_id)
    unfunded: list[str] = []
    ids = sorted({str(s).lower() for s in reorged})
    if ids:
        candidates = session.scalars(
            select(Shipment)
            .where(Shipment.shipment_id.in_(ids), Shipment.status == ShipmentStatus.FUNDED)
            .with_for_update()
        )
        for shipment in candidates:
            now = escrow_view(session, shipment.shipment_id, shipment.terms_hash)
            if now is None or now.terms_hash != shipment.terms_hash:
                shipment.status = ShipmentStatus.CREATED  # the one step back (docstring)
                unfunded.append(shipment.shipment_id)
        session.flush()
    return funded, unfunded
