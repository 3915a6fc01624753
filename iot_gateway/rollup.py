"""Roll stored readings up into EPCIS ObjectEvents, window by window, from the database.

Windows are per (shipment, device), in seq order, closed by iot_gateway.windows.next_window.
The watermark (last rolled-up seq per device) lives in the kv table under one key per
shipment and moves in the same transaction that records the events, so restarts and several
gateways neither skip nor repeat a window. A reading stored after its seq was passed (very late,
beyond the lateness allowance) stays in the readings table but in no window.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.epcis import event_hash
from core.errors import CoreValueError
from core.gs1 import sgtin_urn
from core.merkle import leaf_hash
from iot_gateway.sensor_event import BIZ_STEP, WindowSample, device_uri, window_event
from iot_gateway.windows import WindowRule, next_window
from store.db import transaction
from store.errors import DuplicateEventError, StoreError
from store.models import Brand, Device, Item, Product, Reading, Setting, Shipment, shipment_items
from store.models.types import utcnow
from store.outbox import record_event

if TYPE_CHECKING:
    from iot_gateway.settings import GatewaySettings

_LOGGER = logging.getLogger(__name__)
# The same bizTransaction the API writes on a shipment's events.
SHIPMENT_URN = "urn:chaintrace:shipment:"
WATERMARK_KEY = "iot_gateway.rollup.v1.shipment.{shipment_pk}"
_WATERMARK_LIKE = "iot_gateway.rollup.v1.shipment.%"
# Bounds one transaction: a backlog is worked off over several passes.
MAX_WINDOWS_PER_PASS = 200


def watermark_key(shipment_pk: int) -> str:
    """The kv key holding {device address (lowercase): last rolled-up seq} for a shipment."""
    return WATERMARK_KEY.format(shipment_pk=shipment_pk)


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


def _pending(session: Session) -> dict[int, list[str]]:
    """Shipment -> devices with readings past their watermark (one aggregate, one kv scan)."""
    marks = {
        key: value
        for key, value in session.execute(
            select(Setting.key, Setting.value).where(Setting.key.like(_WATERMARK_LIKE))
        )
    }
    stmt = (
        select(Reading.shipment_id, Reading.device_address, func.max(Reading.seq))
        .where(Reading.shipment_id.is_not(None))
        .group_by(Reading.shipment_id, Reading.device_address)
        .order_by(Reading.shipment_id, Reading.device_address)
    )
    pending: dict[int, list[str]] = {}
    for shipment_pk, address, max_seq in session.execute(stmt):
        if shipment_pk is None:
            continue
        mark = marks.get(watermark_key(shipment_pk), {}).get(address.lower())
        if mark is None or max_seq > mark:
            pending.setdefault(shipment_pk, []).append(address)
    return pending


def _rollup_shipment(
    session: Session, shipment: Shipment, devices: list[str], settings: GatewaySettings, now_ms: int
) -> int:
    # The row exists (_ensure_watermark); its lock serialises gateways on PostgreSQL (and
    # returns the latest committed marks), SQLite's BEGIN IMMEDIATE already serialises.
    row = session.get(Setting, watermark_key(shipment.id), with_for_update=True)
    if row is None:
        raise StoreError(f"watermark row of shipment {shipment.id} vanished")
    marks: dict[str, int] = dict(row.value)
    rule = WindowRule(
        settings.window_readings, settings.window_seconds * 1000, settings.rollup_lateness_s * 1000
    )
    epcs, item_ids = shipment_epcs(session, shipment.id)
    biz = [{"bizTransaction": SHIPMENT_URN + shipment.shipment_id}]
    recorded = 0
    for address in devices:
        owner = session.scalar(select(Device.owner_principal_id).where(Device.address == address))
        while recorded < MAX_WINDOWS_PER_PASS:
            after = marks.get(address.lower())
            stmt = select(Reading).where(
                Reading.shipment_id == shipment.id, Reading.device_address == address
            )
            if after is not None:
                stmt = stmt.where(Reading.seq > after)
            candidates = list(
                session.scalars(stmt.order_by(Reading.seq).limit(rule.max_readings + 1))
            )
            window = next_window(candidates, after, rule, now_ms)
            if not window:
                break
            samples = [
                WindowSample(
                    r.seq, r.taken_at_ms, r.temperature_centi_c, r.humidity_centi_pct, r.digest
                )
                for r in window
            ]
            event = window_event(
                samples=samples,
                device_id=device_uri(settings.reading_chain_id, address),
                epcs=epcs,
                biz_transactions=biz,
            )
            event_json = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            # Hash the stored text itself, so event_json is exactly what was hashed.
            digest = event_hash(json.loads(event_json))
            try:
                record_event(
                    session,
                    kind=0,
                    event_hash=digest,
                    event_json=event_json,
                    event_type="ObjectEvent",
                    biz_step=BIZ_STEP,
                    event_time_ms=max(s.taken_at_ms for s in samples),
                    recorded_by=owner,
                    shipment_id=shipment.id,
                    item_ids=item_ids,
                    leaf_hash_fn=leaf_hash,
                )
                recorded += 1
            except DuplicateEventError:
                _LOGGER.info("window already recorded: shipment %d device %s", shipment.id, address)
            marks[address.lower()] = window[-1].seq
    if marks != row.value:
        row.value = dict(marks)
    session.flush()
    return recorded


def _ensure_watermark(session_factory: sessionmaker[Session], shipment_pk: int) -> None:
    """Create the shipment's watermark row if missing; a concurrent creator is no error."""
    table = cast(Table, Setting.__table__)
    with transaction(session_factory) as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(table)
            .values(key=watermark_key(shipment_pk), value={}, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )


def rollup_once(
    session_factory: sessionmaker[Session], settings: GatewaySettings, *, now_ms: int | None = None
) -> int:
    """One pass over every shipment with readings; returns how many events were recorded."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    with session_factory() as session:
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
