"""EPCIS 2.0 queries over the stored events, as one principal may see them.

Who sees an event (DESIGN.md "Public and private views"): the principal who recorded it, the
parties (carrier, consignee) of the shipment it names, the brand holding its EPCs' company prefix
(the longest registered prefix: the event names one of the brand's items, or one of its EPCs
falls under the prefix) and admins and auditors. The filters on columns (type, event time,
record time, CBV bizStep, the event hash) run in SQL; those on the JSON run in memory
(store/epcis_match.py) after a SQL pre-filter on the stored text that never drops a match. Pages
are keyset on the event id: a page is re-read under the same visibility whatever the token says.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from core.epcis.events import short_biz_step
from core.epcis.hashing import event_id
from store.epc_index import indexed, naming
from store.epcis_match import (
    ANY_EPC_FIELDS,
    EPC_FIELDS,
    JsonFilters,
    names_prefix,
    short_measurement_type,
)
from store.models import (
    AnchorBatch,
    Brand,
    Event,
    EventErasure,
    Item,
    Leaf,
    Principal,
    Product,
    Role,
    Shipment,
    event_items,
)
from store.models.events import MEMBER_KIND
from store.queries import EventRecord

_OVERSEERS = frozenset({Role.ADMIN, Role.AUDITOR})
_NI, _NI_END = "ni:///sha-256;", "?ver=CBV2.0"
# Rows read per round trip, and at most per request: a page may hold fewer than perPage events
# (the binding allows it) and then names the next one to read on.
CHUNK, SCAN_LIMIT = 500, 20_000


@dataclass(frozen=True)
class EventQuery:
    """A SimpleEventQuery's filters; empty tuples and None do not filter."""

    event_types: tuple[str, ...] = ()
    ge_event_time_ms: int | None = None
    lt_event_time_ms: int | None = None
    ge_record_time: datetime | None = None
    lt_record_time: datetime | None = None
    event_hashes: tuple[bytes, ...] = ()  # the canonical hash is one of these (SQL only)
    json: JsonFilters = field(default_factory=JsonFilters)
    # A second set, ANDed with `json`: the value a per-value route's path names.
    scope: JsonFilters = field(default_factory=JsonFilters)

    def matches(self, body: dict[str, Any], ni: str) -> bool:
        """Whether the event's JSON passes both filter sets."""
        return self.json.matches(body, ni) and self.scope.matches(body, ni)


class Page(NamedTuple):
    """One page of visible events and the id to read on after (None: the last page)."""

    records: list[EventRecord]
    after: int | None


@dataclass(frozen=True)
class Viewer:
    """Whose view: the principal, whether it sees everything, and its company prefix if a brand."""

    principal_id: int
    overseer: bool
    brand_id: int | None
    prefix: str | None


def viewer_of(session: Session, principal: Principal) -> Viewer:
    """The principal's view of the events."""
    brand = session.scalar(select(Brand).where(Brand.principal_id == principal.id))
    return Viewer(
        principal.id,
        principal.role in _OVERSEERS,
        None if brand is None else brand.id,
        None if brand is None else brand.company_prefix,
    )


def _contains(text: str) -> ColumnElement[bool]:
    """The stored JSON holds `text` (a pre-filter: the match is checked on the parsed JSON)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Event.event_json.like(f"%{escaped}%", escape="\\")


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sure(viewer: Viewer) -> ColumnElement[bool]:
    """Visible for a reason the columns show: recorder, shipment party, the brand's items."""
    if viewer.overseer:
        return true()
    pid = viewer.principal_id
    parties = select(Shipment.id).where(
        or_(Shipment.carrier_principal_id == pid, Shipment.consignee_principal_id == pid)
    )
    reasons: list[ColumnElement[bool]] = [
        Event.recorded_by == pid,
        Event.shipment_id.in_(parties),
    ]
    if viewer.brand_id is not None:
        linked = (
            select(event_items.c.event_id)
            .join(Item, Item.id == event_items.c.item_id)
            .join(Product, Product.id == Item.product_id)
            .where(Product.brand_id == viewer.brand_id)
        )
        commissioned = (
            select(Item.commission_event_id)
            .join(Product, Product.id == Item.product_id)
            .where(Product.brand_id == viewer.brand_id, Item.commission_event_id.is_not(None))
        )
        reasons += [Event.id.in_(linked), Event.id.in_(commissioned)]
    return or_(*reasons)


def _maybe(viewer: Viewer) -> ColumnElement[bool]:
    """Maybe visible as naming the brand's prefix: every EPC URI under it has `:<prefix[:6]>`
    in its text (a company prefix has at least 6 digits); checked on the JSON."""
    if viewer.overseer or viewer.prefix is None:
        return false()
    return _contains(":" + viewer.prefix[:6])


def _ni_hash(value: str) -> bytes | None:
    if not (value.startswith(_NI) and value.endswith(_NI_END)):
        return None
    try:
        digest = bytes.fromhex(value[len(_NI) : -len(_NI_END)])
    except ValueError:
        return None
    return digest if len(digest) == 32 else None


def _conditions(query: EventQuery) -> list[ColumnElement[bool]]:
    """The SQL half of the filters (and pre-filters that never drop a match)."""
    out: list[ColumnElement[bool]] = []
    if query.event_types:
        out.append(Event.event_type.in_(query.event_types))
    if query.ge_event_time_ms is not None:
        out.append(Event.event_time_ms >= query.ge_event_time_ms)
    if query.lt_event_time_ms is not None:
        out.append(Event.event_time_ms < query.lt_event_time_ms)
    if query.event_hashes:
        # kind leads the unique (kind, event_hash) index: an event's kind is 0 or 1.
        out += [Event.kind.in_((0, 1)), Event.event_hash.in_(query.event_hashes)]
    if query.ge_record_time is not None:
        out.append(Event.created_at >= query.ge_record_time)
    if query.lt_record_time is not None:
        out.append(Event.created_at < query.lt_record_time)
    return out + _json_conditions(query.json) + _json_conditions(query.scope)


def _json_conditions(filters: JsonFilters) -> list[ColumnElement[bool]]:
    """SQL pre-filters for the JSON filters: each keeps every event that can match."""
    out: list[ColumnElement[bool]] = []
    shorts = [short_biz_step(step) for step in filters.biz_steps]
    if filters.biz_steps and all(shorts):
        out.append(Event.biz_step.in_(shorts))  # the column holds the CBV short name
    if filters.event_ids:
        hashes = [h for h in map(_ni_hash, filters.event_ids) if h is not None]
        named = [_contains('"eventID":' + _quoted(v)) for v in filters.event_ids]
        out.append(or_(Event.event_hash.in_(hashes), *named))
    for fields, wanted in (
        (EPC_FIELDS, filters.match_epc),
        (ANY_EPC_FIELDS, filters.match_any_epc),
        (("parentID",), filters.match_parent_id),
        (("inputEPCList",), filters.match_input_epc),
        (("outputEPCList",), filters.match_output_epc),
    ):
        if wanted:
            out.append(_naming_epcs(fields, wanted))
    for _kind, values in filters.biz_transactions:
        out.append(or_(*(_contains(_quoted(v)) for v in values)))
    sensors = filters.sensors
    if sensors:
        out.append(_contains('"sensorElementList"'))
    if sensors.device_ids:
        out.append(or_(*(_contains(_quoted(d)) for d in sensors.device_ids)))
    if sensors.types:  # a standard type's every spelling holds its short name
        out.append(or_(*(_contains(short_measurement_type(t) or t) for t in sensors.types)))
    return out


def _naming_epcs(fields: Sequence[str], wanted: Sequence[str]) -> ColumnElement[bool]:
    """Exact EPCs by the EPC index (store/epc_index.py); patterns by the text pre-filter."""
    exact = indexed(wanted)
    rest = [_contains(_epc_text(w)) for w in wanted if w not in exact]
    return or_(*([naming(fields, exact)] if exact else []), *rest)


def _epc_text(wanted: str) -> str:
    """Text every matching EPC's JSON holds: the EPC quoted, or a pattern's fixed start."""
    if wanted.startswith("urn:epc:idpat:"):
        fixed = "urn:epc:id:" + wanted[len("urn:epc:idpat:") :].split("*", 1)[0]
        return '"' + fixed
    return _quoted(wanted)


def _visible_by_prefix(viewer: Viewer, body: dict[str, Any], registered: Sequence[str]) -> bool:
    return viewer.prefix is not None and names_prefix(body, viewer.prefix, registered)


def query_events(
    session: Session,
    viewer: Viewer,
    query: EventQuery,
    *,
    after: int | None,
    per_page: int,
    scan_limit: int = SCAN_LIMIT,
) -> Page:
    """The next `per_page` visible events matching `query` with ids above `after`, by id."""
    sure, maybe = _sure(viewer), _maybe(viewer)
    erased = select(EventErasure.event_id)
    base = (
        select(Event, Leaf, AnchorBatch, sure.label("sure"))
        .outerjoin(Leaf, and_(Leaf.event_id == Event.id, Leaf.kind < MEMBER_KIND))
        .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
        .where(or_(sure, maybe), Event.id.not_in(erased), *_conditions(query))
        .order_by(Event.id)
    )
    registered: list[str] | None = None
    found: list[EventRecord] = []
    cursor, scanned = after or 0, 0
    while scanned < scan_limit:
        rows = session.execute(base.where(Event.id > cursor).limit(CHUNK)).all()
        for event, leaf, batch, is_sure in rows:
            cursor, scanned = event.id, scanned + 1
            body = json.loads(event.event_json)
            if not is_sure:
                if registered is None:
                    registered = list(session.scalars(select(Brand.company_prefix)))
                if not _visible_by_prefix(viewer, body, registered):
                    continue
            if not query.matches(body, event_id(event.event_hash)):
                continue
            if len(found) == per_page:  # one more exists: this page is full
                return Page(found, found[-1].event.id)
            found.append(EventRecord(event, leaf, batch))
        if len(rows) < CHUNK:
            return Page(found, None)
    return Page(found, cursor)


def find_event(session: Session, viewer: Viewer, wanted: str) -> EventRecord | None:
    """The visible event whose ni:/// hash or eventID is `wanted`, else None (absent and
    invisible alike)."""
    digest = _ni_hash(wanted)
    if digest is not None:  # by the hash first: an index lookup, where the text is a scan
        page = query_events(
            session, viewer, EventQuery(event_hashes=(digest,)), after=None, per_page=1
        )
        if page.records:
            return page.records[0]
    query = EventQuery(json=JsonFilters(event_ids=(wanted,)))
    page = query_events(session, viewer, query, after=None, per_page=1)
    return page.records[0] if page.records else None


def visible_biz_steps(session: Session, viewer: Viewer) -> list[str]:
    """The CBV bizSteps of the events the viewer sees by the columns (recorder, party, brand)."""
    stmt = (
        select(Event.biz_step)
        .where(_sure(viewer), Event.biz_step.is_not(None))
        .distinct()
        .order_by(Event.biz_step)
    )
    return [step for step in session.scalars(stmt) if step is not None]
