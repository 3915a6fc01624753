"""Shipment lookups and status changes (forward only; refunded ends an unattested shipment)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store._validate import hex32
from store.errors import InvalidTransitionError, StoreValueError
from store.models import Shipment, ShipmentStatus

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
