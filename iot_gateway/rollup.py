"""Roll stored readings up into EPCIS ObjectEvents, window by window, from the database.

Windows are per (shipment, device), in seq order, closed by iot_gateway.windows.next_window.
The watermark (last rolled-up seq per device) lives in the kv table under one key per
shipment and moves in the same transaction that records the events, so restarts and several
gateways neither skip nor repeat a window. A second key per shipment keeps, per device, the
seqs each recorded window passed over (holes, with that window's event hash) and how many
readings below the watermark were rolled up: a reading that lands in a hole later gets a
supplementary event (core.epcis.sensor_events.supplement_event); the original is never changed.
A shipment with a container names it in its events' epcList, not its items (linked still).
In the same pass each visited device's closed temperature excursions (iot_gateway.excursions,
from core.sla) are recorded; they are deterministic, so repeats are refused as duplicates, and
one stored with the version 1 shipment transaction (untyped) is not recorded again typed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Select, Table, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.epcis.events import SHIPMENT_TRANSACTION_V1, shipment_transaction
from core.epcis.hashed_event import HashedEvent
from core.epcis.sensor_events import (
    WindowSample,
    device_uri,
    supplement_event,
    window_event,
)
from core.errors import CoreValueError
from core.gs1 import sgtin_urn
from core.hexstr import hex0x
from iot_gateway.excursions import (
    Excursion,
    device_excursions,
    excursion_event,
    shipment_policy,
)
from iot_gateway.windows import Hole, WindowRule, fill_holes, hole_of, next_window, window_gaps
from store.db import read_transaction, transaction
from store.errors import DuplicateEventError, StoreError
from store.models import Brand, Device, Item, Product, Reading, Setting, Shipment, shipment_items
from store.models.types import EventKind, utcnow
from store.queries import event_record
from store.recording import EventRow, record_event, record_events

if TYPE_CHECKING:
    from iot_gateway.settings import GatewaySettings

_LOGGER = logging.getLogger(__name__)
WATERMARK_KEY = "iot_gateway.rollup.v1.shipment.{shipment_pk}"
_WATERMARK_LIKE = "iot_gateway.rollup.v1.shipment.%"
LATE_KEY = "iot_gateway.rollup.v1.late.{shipment_pk}"
_LATE_LIKE = "iot_gateway.rollup.v1.late.%"
# Bounds one transaction: a backlog is worked off over several passes.
MAX_WINDOWS_PER_PASS = 200
MAX_LATE_PER_PASS = 1000
# Holes per statement (one BETWEEN each).
_HOLES_PER_QUERY = 50


def watermark_key(shipment_pk: int) -> str:
    """The kv key holding {device address (lowercase): last rolled-up seq} for a shipment."""
    return WATERMARK_KEY.format(shipment_pk=shipment_pk)


def late_key(shipment_pk: int) -> str:
    """The kv key holding {device: {"counted": n, "holes": [[lo, hi, event hash], ...]}}."""
    return LATE_KEY.format(shipment_pk=shipment_pk)


class _LateState:
    """One device's holes and its count of rolled-up readings at or below the watermark."""

    def __init__(self, raw: object) -> None:
        entry = raw if isinstance(raw, dict) else {}
        counted = entry.get("counted")
        self.counted: int | None = counted if isinstance(counted, int) else None
        self.holes = [Hole(int(lo), int(hi), str(ev)) for lo, hi, ev in entry.get("holes", [])]

    def to_json(self) -> dict[str, object]:
        return {"counted": self.counted, "holes": [[h.lo, h.hi, h.event] for h in self.holes]}


def shipment_epcs(session: Session, shipment_pk: int) -> tuple[list[str], list[int]]:
    """The shipment's items as SGTIN URNs, and their ids."""
    rows = session.execute(
        select(Item.id, Item.serial, Product.gtin, Brand.company_prefix)
        .join(shipment_items, shipment_items.c.item_id == Item.id)
        .join(Product, Product.id == Item.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .where(shipment_items.c.shipment_id == shipment_pk)
        .order_by(Item.id)
    ).all()
    urns = [sgtin_urn(gtin, serial, len(prefix)) for _id, serial, gtin, prefix in rows]
    return urns, [row[0] for row in rows]


def shipment_item_ids(session: Session, shipment_pk: int) -> list[int]:
    """The ids of the shipment's items."""
    return list(
        session.scalars(
            select(shipment_items.c.item_id)
            .where(shipment_items.c.shipment_id == shipment_pk)
            .order_by(shipment_items.c.item_id)
        )
    )


def _pending(session: Session) -> dict[int, dict[str, int]]:
    """Shipment -> {device: its readings there} for devices with readings to roll up.

    A device is pending with readings past its watermark, or with more readings than were
    rolled up (a late one landed in a hole): one aggregate and one kv scan per pass.
    """
    marks: dict[str, Any] = {}
    for key, value in session.execute(
        select(Setting.key, Setting.value).where(
            or_(Setting.key.like(_WATERMARK_LIKE), Setting.key.like(_LATE_LIKE))
        )
    ):
        marks[key] = value
    stmt = (
        select(Reading.shipment_id, Reading.device_address, func.max(Reading.seq), func.count())
        .where(Reading.shipment_id.is_not(None))
        .group_by(Reading.shipment_id, Reading.device_address)
        .order_by(Reading.shipment_id, Reading.device_address)
    )
    pending: dict[int, dict[str, int]] = {}
    for shipment_pk, address, max_seq, total in session.execute(stmt):
        if shipment_pk is None:
            continue
        mark = marks.get(watermark_key(shipment_pk), {}).get(address.lower())
        late = _LateState(marks.get(late_key(shipment_pk), {}).get(address.lower()))
        if mark is None or max_seq > mark or late.counted is None or total > late.counted:
            pending.setdefault(shipment_pk, {})[address] = int(total)
    return pending


class _ShipmentRollup:
    """One shipment's pass, inside the transaction holding its watermark row lock."""

    def __init__(
        self, session: Session, shipment: Shipment, settings: GatewaySettings, now_ms: int
    ) -> None:
        self.session = session
        self.shipment = shipment
        self.settings = settings
        self.now_ms = now_ms
        self.rule = WindowRule(
            settings.window_readings,
            settings.window_seconds * 1000,
            settings.rollup_lateness_s * 1000,
        )
        # A shipment with a container (packed into it at shipping) names the container, not
        # each item: one projection per window, not one per item (DESIGN.md "Public and private
        # views"). The items stay linked (event_items) for the parties' item history.
        if shipment.container_epc is None:
            self.epcs, self.item_ids = shipment_epcs(session, shipment.id)
        else:
            self.epcs, self.item_ids = (
                [shipment.container_epc],
                shipment_item_ids(session, shipment.id),
            )
        # The same bizTransaction the API writes on a shipment's events.
        self.biz = [shipment_transaction(shipment.shipment_id)]
        # How events stored before version 2 named it: an excursion rebuilt each pass must not
        # be recorded a second time in the new form.
        self.biz_v1 = [shipment_transaction(shipment.shipment_id, SHIPMENT_TRANSACTION_V1)]
        self.policy = shipment_policy(shipment)
        self.recorded = 0

    def _readings(self, address: str) -> Select[Reading]:
        return select(Reading).where(
            Reading.shipment_id == self.shipment.id, Reading.device_address == address
        )

    def _record(self, event: dict[str, Any], owner: int | None, repeat: bool = False) -> bytes:
        """Record the event; a repeat (same hash) is logged, at debug level when expected."""
        return self._record_hashed(HashedEvent.of(event), owner, repeat)

    def _record_hashed(self, hashed: HashedEvent, owner: int | None, repeat: bool = False) -> bytes:
        try:
            record_event(
                self.session,
                hashed,
                recorded_by=owner,
                shipment_id=self.shipment.id,
                item_ids=self.item_ids,
            )
            self.recorded += 1
        except DuplicateEventError:
            level = logging.DEBUG if repeat else logging.INFO
            _LOGGER.log(level, "event already recorded: shipment %d", self.shipment.id)
        return hashed.event_hash

    def _record_all(self, events: list[HashedEvent], owner: int | None) -> None:
        """Record a device's window events in one bulk insert; if one is stored already (a pass
        redone after a crash), each on its own, the repeats logged."""
        rows: list[EventRow] = [
            {
                "event": hashed,
                "recorded_by": owner,
                "shipment_id": self.shipment.id,
                "item_ids": self.item_ids,
            }
            for hashed in events
        ]
        try:
            self.recorded += len(record_events(self.session, rows))
        except DuplicateEventError:
            for hashed in events:
                self._record_hashed(hashed, owner)

    def windows(
        self, address: str, after: int | None, late: _LateState, owner: int | None
    ) -> int | None:
        """Record the device's closed windows; returns the new watermark."""
        device_id = device_uri(self.settings.reading_chain_id, address)
        closed: list[HashedEvent] = []
        while self.recorded + len(closed) < MAX_WINDOWS_PER_PASS:
            stmt = self._readings(address)
            if after is not None:
                stmt = stmt.where(Reading.seq > after)
            candidates = list(
                self.session.scalars(stmt.order_by(Reading.seq).limit(self.rule.max_readings + 1))
            )
            window = next_window(candidates, after, self.rule, self.now_ms)
            if not window:
                break
            samples = [_sample(r) for r in window]
            event = window_event(
                samples=samples, device_id=device_id, epcs=self.epcs, biz_transactions=self.biz
            )
            closed.append(HashedEvent.of(event))
            digest = closed[-1].event_hash
            late.holes += window_gaps(after, [r.seq for r in window], hex0x(digest))
            late.counted = (late.counted or 0) + len(window)
            after = window[-1].seq
        if closed:
            self._record_all(closed, owner)
        return after

    def supplements(
        self, address: str, mark: int | None, total: int, late: _LateState, owner: int | None
    ) -> None:
        """Record supplementary events for readings that landed in holes."""
        if not late.holes and late.counted is not None:
            return  # no seq was passed over: no reading can be late
        above_stmt = (
            select(func.count())
            .select_from(Reading)
            .where(Reading.shipment_id == self.shipment.id, Reading.device_address == address)
        )
        if mark is not None:
            above_stmt = above_stmt.where(Reading.seq > mark)
        below = total - int(self.session.scalar(above_stmt) or 0) if mark is not None else 0
        if late.counted is not None and below <= late.counted:
            return
        found = self._late_readings(address, late.holes)
        if not found:
            # No hole holds a reading: the count predates hole tracking; start from here.
            late.counted = max(late.counted or 0, below)
            return
        groups: dict[str, list[Reading]] = {}
        for reading in found:
            hole = hole_of(late.holes, reading.seq)
            if hole is not None:
                groups.setdefault(hole.event, []).append(reading)
        device_id = device_uri(self.settings.reading_chain_id, address)
        size = self.rule.max_readings
        for original, readings in groups.items():
            for start in range(0, len(readings), size):
                samples = [_sample(r) for r in readings[start : start + size]]
                event = supplement_event(
                    samples=samples,
                    device_id=device_id,
                    epcs=self.epcs,
                    supplements=bytes.fromhex(original.removeprefix("0x")),
                    biz_transactions=self.biz,
                )
                self._record(event, owner)
        late.holes = fill_holes(late.holes, [r.seq for r in found])
        late.counted = (late.counted or 0) + len(found)

    def excursions(self, address: str, owner: int | None) -> None:
        """Record the device's closed excursions not recorded yet (the store refuses repeats)."""
        if self.policy is None:
            return
        device_id = device_uri(self.settings.reading_chain_id, address)
        for excursion in device_excursions(self.session, self.shipment.id, address, self.policy):
            if self._stored_v1(excursion, device_id):
                continue
            event = excursion_event(
                excursion, device_id=device_id, epcs=self.epcs, biz_transactions=self.biz
            )
            self._record(event, owner, repeat=True)

    def _stored_v1(self, excursion: Excursion, device_id: str) -> bool:
        """Whether the excursion is stored as written before typed shipment transactions."""
        old = excursion_event(
            excursion, device_id=device_id, epcs=self.epcs, biz_transactions=self.biz_v1
        )
        digest = HashedEvent.of(old).event_hash
        return event_record(self.session, EventKind.EVENT, digest) is not None

    def _late_readings(self, address: str, holes: list[Hole]) -> list[Reading]:
        found: list[Reading] = []
        for start in range(0, len(holes), _HOLES_PER_QUERY):
            chunk = holes[start : start + _HOLES_PER_QUERY]
            ranges = [and_(Reading.seq >= h.lo, Reading.seq <= h.hi) for h in chunk]
            stmt = self._readings(address).where(or_(*ranges)).order_by(Reading.seq)
            found += self.session.scalars(stmt.limit(MAX_LATE_PER_PASS - len(found)))
            if len(found) >= MAX_LATE_PER_PASS:
                break
        return found


def _sample(reading: Reading) -> WindowSample:
    return WindowSample(
        reading.seq,
        reading.taken_at_ms,
        reading.temperature_centi_c,
        reading.humidity_centi_pct,
        reading.digest,
    )


def _rollup_shipment(
    session: Session,
    shipment: Shipment,
    devices: dict[str, int],
    settings: GatewaySettings,
    now_ms: int,
) -> int:
    # The rows exist (_ensure_watermark); the watermark row's lock serialises gateways on
    # PostgreSQL (and returns the latest committed marks), SQLite's BEGIN IMMEDIATE already
    # serialises. The late row is only written under that lock; taken second, always.
    row = session.get(Setting, watermark_key(shipment.id), with_for_update=True)
    late_row = session.get(Setting, late_key(shipment.id), with_for_update=True)
    if row is None or late_row is None:
        raise StoreError(f"roll-up rows of shipment {shipment.id} vanished")
    marks: dict[str, int] = dict(row.value)
    lates: dict[str, Any] = dict(late_row.value)
    work = _ShipmentRollup(session, shipment, settings, now_ms)
    for address, total in devices.items():
        key = address.lower()
        owner = session.scalar(select(Device.owner_principal_id).where(Device.address == address))
        late = _LateState(lates.get(key))
        if late.counted is None and key not in marks:
            late.counted = 0  # a device's first window: nothing below a watermark yet
        mark = work.windows(address, marks.get(key), late, owner)
        if mark is not None:
            marks[key] = mark
            work.supplements(address, mark, total, late, owner)
        work.excursions(address, owner)
        lates[key] = late.to_json()
    if marks != row.value:
        row.value = dict(marks)
    if lates != late_row.value:
        late_row.value = lates
    session.flush()
    return work.recorded


def _ensure_watermark(session_factory: sessionmaker[Session], shipment_pk: int) -> None:
    """Create the shipment's roll-up rows if missing; a concurrent creator is no error."""
    table = cast(Table, Setting.__table__)
    with transaction(session_factory) as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for key in (watermark_key(shipment_pk), late_key(shipment_pk)):
            session.execute(
                insert(table)
                .values(key=key, value={}, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["key"])
            )


def rollup_once(
    session_factory: sessionmaker[Session], settings: GatewaySettings, *, now_ms: int | None = None
) -> int:
    """One pass over every shipment with readings; returns how many events were recorded."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    # Read-only: on SQLite the aggregate over every reading holds no write lock, so the
    # gateway's writer goes on storing readings meanwhile.
    with read_transaction(session_factory) as session:
        by_shipment = _pending(session)
    total = 0
    for shipment_pk, devices in by_shipment.items():
        try:
            _ensure_watermark(session_factory, shipment_pk)
            with transaction(session_factory) as session:
                shipment = session.get(Shipment, shipment_pk)
                if shipment is not None:
                    total += _rollup_shipment(session, shipment, devices, settings, now)
        except (CoreValueError, StoreError, SQLAlchemyError) as exc:
            # Bad data in one shipment (e.g. an item that makes no valid EPC) must not hold
            # up the others; its windows wait until the data is fixed.
            _LOGGER.error("roll-up of shipment %d skipped: %s", shipment_pk, exc)
    return total
