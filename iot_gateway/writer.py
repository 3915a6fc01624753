"""One database transaction per batch: store readings, assign shipments, advance device acks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from iot_gateway.payload import SignedReading
from store.models import Device, Reading, Shipment, ShipmentStatus, shipment_devices
from store.readings import InsertResult, ReadingConflict, insert_readings

# Shipments whose devices' readings are filed under them as they arrive.
ACTIVE_SHIPMENT_STATUSES = (
    ShipmentStatus.CREATED,
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
)
_SCAN_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch did, and each touched device's highest contiguous stored seq."""

    inserted: int
    duplicates: int
    conflicts: list[ReadingConflict]
    acked_seq: dict[str, int]


def active_shipments(session: Session, addresses: Iterable[str]) -> dict[str, int]:
    """Lowercase device address -> primary key of its newest active shipment."""
    wanted = sorted({a.lower() for a in addresses})
    if not wanted:
        return {}
    stmt = (
        select(Device.address, Shipment.id)
        .join(shipment_devices, shipment_devices.c.device_id == Device.id)
        .join(Shipment, Shipment.id == shipment_devices.c.shipment_id)
        .where(func.lower(Device.address).in_(wanted))
        .where(Shipment.status.in_(ACTIVE_SHIPMENT_STATUSES))
        .order_by(Shipment.id)
    )
    # Ordered by id, so the newest active shipment wins.
    return {address.lower(): shipment_pk for address, shipment_pk in session.execute(stmt)}


def _contiguous_end(session: Session, address: str, start: int | None) -> int | None:
    """The last seq of the unbroken run after `start` (or from the lowest stored seq)."""
    last = start
    while True:
        stmt = select(Reading.seq).where(Reading.device_address == address)
        if last is not None:
            stmt = stmt.where(Reading.seq > last)
        seqs = list(session.scalars(stmt.order_by(Reading.seq).limit(_SCAN_CHUNK)))
        for seq in seqs:
            if last is not None and seq != last + 1:
                return last
            last = seq
        if len(seqs) < _SCAN_CHUNK:
            return last


def lock_devices(session: Session, addresses: Iterable[str]) -> list[tuple[int, str, int | None]]:
    """Lock the devices' rows (id order, so no deadlocks); returns (id, address, last_acked_seq).

    Concurrent gateways (shared subscriptions) then write one device's readings one batch at a
    time, and each batch sees the rows committed before it: the contiguous-ack scan never
    stalls on readings another gateway holds uncommitted. SQLite serialises writers anyway.
    """
    wanted = sorted({a.lower() for a in addresses})
    if not wanted:
        return []
    stmt = (
        select(Device.id, Device.address, Device.last_acked_seq)
        .where(func.lower(Device.address).in_(wanted))
        .order_by(Device.id)
        .with_for_update()
    )
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]


def advance_acked_seq(
    session: Session, devices: Iterable[tuple[int, str, int | None]]
) -> dict[str, int]:
    """Move each device's last_acked_seq over the contiguous run of stored seqs; return it.

    A device's first ack covers the run starting at its lowest stored seq, so a device that
    starts counting at any number (or lost its early readings before registration) is acked.
    """
    acked: dict[str, int] = {}
    for device_id, address, start in devices:
        last = _contiguous_end(session, address, start)
        if last is None:
            continue
        acked[address.lower()] = last
        if last != start:
            # Guarded so the ack never moves backwards, whatever the isolation level.
            session.execute(
                update(Device)
                .where(Device.id == device_id)
                .where(or_(Device.last_acked_seq.is_(None), Device.last_acked_seq < last))
                .values(last_acked_seq=last)
                .execution_options(synchronize_session=False)
            )
    return acked


def write_batch(session: Session, readings: Sequence[SignedReading]) -> BatchResult:
    """Insert verified readings (duplicates skipped, conflicts reported) in the caller's txn."""
    devices = lock_devices(session, (r.device for r in readings))
    shipments = active_shipments(session, (r.device for r in readings))
    rows = [r.store_row(shipments.get(r.device)) for r in readings]
    result: InsertResult = insert_readings(session, rows)
    acked = advance_acked_seq(session, devices)
    return BatchResult(result.inserted, result.duplicates, result.conflicts, acked)
