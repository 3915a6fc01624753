"""One database transaction per batch: store readings, assign shipments, advance device acks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from iot_gateway.payload import SignedReading
from store.models import Device, Principal, Reading, Shipment, ShipmentStatus, shipment_devices
from store.readings import InsertResult, ReadingConflict, insert_readings

# Shipments whose devices' readings are filed under them as they arrive.
ACTIVE_SHIPMENT_STATUSES = (
    ShipmentStatus.CREATED,
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
)
# Statuses only the carrier's own events reach (it recorded shipping).
_CARRIER_ACTED = (ShipmentStatus.SHIPPING, ShipmentStatus.ARRIVED)
_SCAN_CHUNK = 1000
# The batch's one range query covers this many seqs past each device's ack.
_RUN_WINDOW = 10_000
_DEVICES = cast(Table, Device.__table__)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch did, and each touched device's highest contiguous stored seq."""

    inserted: int
    duplicates: int
    conflicts: list[ReadingConflict]
    acked_seq: dict[str, int]


def active_shipments(session: Session, addresses: Iterable[str]) -> dict[str, int]:
    """Lowercase device address -> primary key of its newest active shipment.

    Only a shipment its device's own carrier has taken on counts: the device's owner is the
    shipment's carrier and has signed its terms (as carrier, or as the payee with its wallet)
    or recorded its shipping. A buyer naming another carrier's loggers in a shipment that
    carrier never agreed to diverts none of their readings (issue 11's hijack).
    """
    wanted = sorted({a.lower() for a in addresses})
    if not wanted:
        return {}
    carrier = aliased(Principal)
    stmt = (
        select(Device.address, Shipment.id)
        .join(shipment_devices, shipment_devices.c.device_id == Device.id)
        .join(Shipment, Shipment.id == shipment_devices.c.shipment_id)
        .join(carrier, carrier.id == Shipment.carrier_principal_id)
        .where(func.lower(Device.address).in_(wanted))
        .where(Shipment.status.in_(ACTIVE_SHIPMENT_STATUSES))
        .where(Shipment.carrier_principal_id == Device.owner_principal_id)
        .where(
            or_(
                Shipment.status.in_(_CARRIER_ACTED),
                Shipment.carrier_signature.is_not(None),
                and_(
                    Shipment.payee_signature.is_not(None),
                    Shipment.payee_address == carrier.wallet_address,
                ),
            )
        )
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


def _stored_runs(session: Session, device_ids: list[int], window: int) -> dict[str, list[int]]:
    """Stored seqs in (last_acked_seq, last_acked_seq + window] per device, by seq.

    One statement for the whole batch whatever its devices (a cached compile, ids expanded).
    """
    stmt = (
        select(Reading.device_address, Reading.seq)
        .join(Device, Device.address == Reading.device_address)
        .where(Device.id.in_(device_ids))
        .where(Device.last_acked_seq.is_not(None))
        .where(Reading.seq > Device.last_acked_seq)
        .where(Reading.seq <= Device.last_acked_seq + window)
        .order_by(Reading.device_address, Reading.seq)
    )
    found: dict[str, list[int]] = {}
    for address, seq in session.execute(stmt):
        found.setdefault(address, []).append(seq)
    return found


def _run_end(start: int, seqs: list[int]) -> int:
    last = start
    for seq in seqs:
        if seq != last + 1:
            break
        last = seq
    return last


def advance_acked_seq(
    session: Session, devices: Iterable[tuple[int, str, int | None]]
) -> dict[str, int]:
    """Move each device's last_acked_seq over the contiguous run of stored seqs; return it.

    A device's first ack covers the run starting at its lowest stored seq, so a device that
    starts counting at any number (or lost its early readings before registration) is acked.
    Devices already acked are looked up together, one query and one executemany per batch.
    """
    acked: dict[str, int] = {}
    moved: list[dict[str, int]] = []
    known: list[tuple[int, str, int]] = []
    for device_id, address, start in devices:
        if start is None:
            last = _contiguous_end(session, address, None)
            if last is not None:
                acked[address.lower()] = last
                moved.append({"b_id": device_id, "b_last": last})
        else:
            known.append((device_id, address, start))
    runs = _stored_runs(session, [device_id for device_id, _a, _s in known], _RUN_WINDOW)
    for device_id, address, start in known:
        last = _run_end(start, runs.get(address, []))
        if last - start == _RUN_WINDOW:
            # The run may go on past the window (a huge backlog): follow it for this device.
            last = _contiguous_end(session, address, last) or last
        acked[address.lower()] = last
        if last != start:
            moved.append({"b_id": device_id, "b_last": last})
    if moved:
        # Guarded so the ack never moves backwards, whatever the isolation level.
        stmt = (
            update(_DEVICES)
            .where(_DEVICES.c.id == bindparam("b_id"))
            .where(
                or_(
                    _DEVICES.c.last_acked_seq.is_(None),
                    _DEVICES.c.last_acked_seq < bindparam("b_last"),
                )
            )
            .values(last_acked_seq=bindparam("b_last"))
        )
        session.connection().execute(stmt, _last_per_device(moved))
    return acked


def _last_per_device(moved: list[dict[str, int]]) -> list[dict[str, int]]:
    best: dict[int, int] = {}
    for row in moved:
        best[row["b_id"]] = max(best.get(row["b_id"], row["b_last"]), row["b_last"])
    return [{"b_id": device_id, "b_last": last} for device_id, last in best.items()]


def write_batch(session: Session, readings: Sequence[SignedReading]) -> BatchResult:
    """Insert verified readings (duplicates skipped, conflicts reported) in the caller's txn."""
    devices = lock_devices(session, (r.device for r in readings))
    shipments = active_shipments(session, (r.device for r in readings))
    rows = [r.store_row(shipments.get(r.device)) for r in readings]
    result: InsertResult = insert_readings(session, rows)
    acked = advance_acked_seq(session, devices)
    return BatchResult(result.inserted, result.duplicates, result.conflicts, acked)
