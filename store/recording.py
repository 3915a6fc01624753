"""Recording events with their pending leaves in the caller's transaction: one by one or in bulk.

An event arrives hashed (core.epcis.hashed_event.HashedEvent); the store draws its salt (or
takes the one a brand signed over) and computes its leaf (core.merkle.leaf_hash) itself, adds
a kind 2 leaf per EPC of an object, aggregation or transformation event (store/projections.py),
and indexes the EPCs the event names (store/epc_index.py), all in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Required, TypedDict

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.epcis.hashed_event import HashedEvent
from core.merkle import leaf_hash
from store._validate import IN_CHUNK, bytes_of
from store.epc_index import index_events
from store.errors import DuplicateEventError, NotFoundError, StoreValueError
from store.models import Event, EventKind, Item, Leaf, event_items
from store.models.events import MEMBER_KIND, OWN_LEAF_EPC
from store.models.types import utcnow
from store.projections import MemberLeafRow, insert_member_leaves, member_rows

_MAX_INT64 = 2**63 - 1
# The Core tables, for executemany statements without ORM bookkeeping.
_EVENTS = Event.metadata.tables["events"]


def _existing_event_id(session: Session, kind: int, event_hash: bytes) -> int | None:
    return session.scalar(
        select(Event.id).where(Event.kind == kind, Event.event_hash == event_hash)
    )


class EventRow(TypedDict, total=False):
    """One event for record_events: the arguments of record_event, by name."""

    event: Required[HashedEvent]
    recorded_by: Required[int | None]
    shipment_id: int | None
    item_ids: Iterable[int]
    salt: bytes | None


def _checked_event(event: HashedEvent, salt: bytes | None) -> tuple[int, bytes, bytes]:
    """(kind, event_hash, salt) normalised; StoreValueError for any bad field."""
    if not isinstance(event, HashedEvent):
        raise StoreValueError("the event must be a core.epcis HashedEvent")
    kind, event_hash, event_json = event.kind, event.event_hash, event.event_json
    event_type, biz_step, event_time_ms = event.event_type, event.biz_step, event.event_time_ms
    try:
        kind = int(EventKind(kind))
    except ValueError:
        raise StoreValueError(f"event kind must be 0 or 1, got {kind!r}") from None
    event_hash = bytes_of(event_hash, 32, "event_hash")
    salt = secrets.token_bytes(32) if salt is None else bytes_of(salt, 32, "salt")
    if not isinstance(event_json, str) or not event_json:
        raise StoreValueError("event_json must be a non-empty string")
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 64:
        raise StoreValueError("event_type must be 1-64 characters")
    if biz_step is not None and (not isinstance(biz_step, str) or len(biz_step) > 255):
        raise StoreValueError("biz_step must be at most 255 characters")
    if isinstance(event_time_ms, bool) or not isinstance(event_time_ms, int):
        raise StoreValueError("event_time_ms must be an integer")
    if not 0 <= event_time_ms <= _MAX_INT64:
        raise StoreValueError(f"event_time_ms out of range: {event_time_ms}")
    return kind, event_hash, salt


def record_event(
    session: Session,
    event: HashedEvent,
    *,
    recorded_by: int | None,
    shipment_id: int | None = None,
    item_ids: Iterable[int] = (),
    salt: bytes | None = None,
    members: Sequence[MemberLeafRow] | None = None,
) -> Event:
    """Insert an event and its pending leaves in the caller's transaction (DESIGN: one
    transaction).

    The event's own leaf is core.merkle.leaf_hash(kind, event_hash, salt); the salt is `salt`
    when given (a brand signed a root over salts it chose before), else 32 fresh random bytes.
    Its kind 2 leaves are `members` when given (a brand signed a root over them too; [] for
    none), else made now (store/projections.py). Raises DuplicateEventError if (kind,
    event_hash) is already stored.
    """
    hashed = event
    kind, event_hash, salt = _checked_event(hashed, salt)
    wanted = sorted(set(item_ids))
    items = list(session.scalars(select(Item).where(Item.id.in_(wanted)))) if wanted else []
    if len(items) != len(wanted):
        missing = sorted(set(wanted) - {item.id for item in items})
        raise NotFoundError(f"no items with ids {missing}")

    existing = _existing_event_id(session, kind, event_hash)
    if existing is not None:
        raise DuplicateEventError(kind, event_hash, existing)
    row = Event(
        kind=kind,
        event_hash=event_hash,
        event_json=hashed.event_json,
        event_type=hashed.event_type,
        biz_step=hashed.biz_step,
        event_time_ms=hashed.event_time_ms,
        recorded_by=recorded_by,
        shipment_id=shipment_id,
        items=items,
    )
    row.leaf = Leaf(
        kind=kind, epc=OWN_LEAF_EPC, salt=salt, leaf_hash=leaf_hash(kind, event_hash, salt)
    )
    if members is None:
        members = member_rows(session, [(kind, hashed.event_type, hashed.event_json)])[0]
    try:
        # A savepoint, so losing a race to a concurrent identical insert leaves the caller's
        # transaction usable.
        with session.begin_nested():
            session.add(row)
            session.flush()
            insert_member_leaves(session, row.id, members)
            index_events(session, [(row.id, hashed.event_json)])
    except IntegrityError:
        existing = _existing_event_id(session, kind, event_hash)
        if existing is None:
            raise
        raise DuplicateEventError(kind, event_hash, existing) from None
    return row


_PG_STORED = text(
    "SELECT event_hash, id FROM events WHERE kind = :kind"
    " AND event_hash = ANY(CAST(:hashes AS bytea[]))"
)


def _first_stored(
    session: Session, keys: Sequence[tuple[int, bytes]]
) -> tuple[int, bytes, int] | None:
    """The first of `keys` (in order) already stored, as (kind, event_hash, event id), or None."""
    found: dict[tuple[int, bytes], int] = {}
    postgresql = session.get_bind().dialect.name == "postgresql"
    for kind in sorted({kind for kind, _ in keys}):
        # kind = ? AND event_hash IN (...): the (kind, event_hash) unique index answers it.
        hashes = [event_hash for k, event_hash in keys if k == kind]
        if postgresql:  # one array parameter: 500 separate ones cost psycopg more than the query
            rows = session.execute(_PG_STORED, {"kind": kind, "hashes": hashes})
            found.update({(kind, bytes(h)): int(i) for h, i in rows})
            continue
        for start in range(0, len(hashes), IN_CHUNK):
            rows = session.execute(
                select(Event.event_hash, Event.id).where(
                    Event.kind == kind, Event.event_hash.in_(hashes[start : start + IN_CHUNK])
                )
            )
            found.update({(kind, bytes(h)): int(i) for h, i in rows})
    for key in keys:
        if key in found:
            return key[0], key[1], found[key]
    return None


# PostgreSQL: one statement per table with the columns as arrays (unnest), where a multi-row
# VALUES list costs psycopg more to parse than the server takes to insert it.
_PG_EVENTS = text(
    "INSERT INTO events (kind, event_hash, event_json, event_type, biz_step, event_time_ms,"
    " recorded_by, shipment_id, created_at)"
    " SELECT u.*, CAST(:created_at AS timestamptz) FROM unnest(CAST(:kind AS smallint[]),"
    " CAST(:event_hash AS bytea[]), CAST(:event_json AS text[]), CAST(:event_type AS text[]),"
    " CAST(:biz_step AS text[]), CAST(:event_time_ms AS bigint[]), CAST(:recorded_by AS int[]),"
    " CAST(:shipment_id AS int[])) AS u"
    " ON CONFLICT (kind, event_hash) DO NOTHING RETURNING kind, event_hash, id"
)
_PG_LEAVES = text(
    "INSERT INTO leaves (event_id, kind, epc, projection_json, salt, leaf_hash, created_at)"
    " SELECT u.*, CAST(:created_at AS timestamptz) FROM unnest(CAST(:event_id AS int[]),"
    " CAST(:kind AS smallint[]), CAST(:epc AS text[]), CAST(:projection_json AS text[]),"
    " CAST(:salt AS bytea[]), CAST(:leaf_hash AS bytea[])) AS u"
)
_LEAF_COLUMNS = ("event_id", "kind", "epc", "projection_json", "salt", "leaf_hash")
_EVENT_COLUMNS = (
    "kind",
    "event_hash",
    "event_json",
    "event_type",
    "biz_step",
    "event_time_ms",
    "recorded_by",
    "shipment_id",
)


class _AlreadyStored(Exception):
    """ON CONFLICT skipped a row: an event of the call is stored already."""


class _NewEvents(NamedTuple):
    """One record_events call's checked rows, in input order, ready to insert."""

    events: list[dict[str, Any]]
    keys: list[tuple[int, bytes]]
    salts: list[bytes]
    leaf_hashes: list[bytes]
    members: list[list[MemberLeafRow]]
    now: datetime


def _leaf_rows(new: _NewEvents, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Every leaf of the call as (event_id, kind, epc, projection_json, salt, leaf_hash): each
    event's own leaf, then its kind 2 leaves."""
    rows: list[tuple[Any, ...]] = []
    for event_id, (kind, _), salt, leaf, members in zip(
        ids, new.keys, new.salts, new.leaf_hashes, new.members, strict=True
    ):
        rows.append((event_id, kind, OWN_LEAF_EPC, None, salt, leaf))
        rows.extend((event_id, MEMBER_KIND, *member) for member in members)
    return rows


def _insert_postgresql(session: Session, new: _NewEvents) -> list[int]:
    events, keys, now = new.events, new.keys, new.now
    columns: dict[str, Any] = {name: [e[name] for e in events] for name in _EVENT_COLUMNS}
    returned = session.execute(_PG_EVENTS, {**columns, "created_at": now})
    by_key = {(int(k), bytes(h)): int(i) for k, h, i in returned}
    if len(by_key) != len(keys):
        raise _AlreadyStored  # some were stored before: the savepoint is rolled back
    ids = [by_key[key] for key in keys]
    leaves = list(zip(*_leaf_rows(new, ids), strict=True))
    session.execute(
        _PG_LEAVES,
        {**{n: list(c) for n, c in zip(_LEAF_COLUMNS, leaves, strict=True)}, "created_at": now},
    )
    return ids


# SQLite: multi-row INSERT ... RETURNING straight to the driver, the timestamp converted once
# for the whole call (SQLAlchemy's per-row parameter processing cost more than SQLite's insert).
_SQLITE_ROWS_PER_INSERT = 500  # x 9 columns: far under SQLite's 32,766 bound parameters
_SQLITE_EVENTS = (
    "INSERT INTO events (kind, event_hash, event_json, event_type, biz_step, event_time_ms,"
    " recorded_by, shipment_id, created_at) VALUES {rows}"
    " ON CONFLICT (kind, event_hash) DO NOTHING RETURNING kind, event_hash, id"
)
_SQLITE_LEAVES = (
    "INSERT INTO leaves (event_id, kind, epc, projection_json, salt, leaf_hash, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _insert_sqlite(session: Session, new: _NewEvents) -> list[int]:
    events, keys, now = new.events, new.keys, new.now
    connection = session.connection()
    # created_at exactly as the mapped column stores it (UTCDateTime on SQLite's DateTime).
    to_db = _EVENTS.c.created_at.type.dialect_impl(connection.dialect).bind_processor(
        connection.dialect
    )
    created = to_db(now) if to_db is not None else now
    by_key: dict[tuple[int, bytes], int] = {}
    for start in range(0, len(events), _SQLITE_ROWS_PER_INSERT):
        chunk = events[start : start + _SQLITE_ROWS_PER_INSERT]
        statement = _SQLITE_EVENTS.format(
            rows=", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        )
        values = tuple(
            value for e in chunk for value in (*(e[name] for name in _EVENT_COLUMNS), created)
        )
        # Ids matched by (kind, event_hash): SQLite does not promise RETURNING's row order.
        returned = connection.exec_driver_sql(statement, values)
        by_key.update(((int(k), bytes(h)), int(i)) for k, h, i in returned)
    if len(by_key) != len(keys):
        raise _AlreadyStored  # some were stored before: the savepoint is rolled back
    ids = [by_key[key] for key in keys]
    connection.exec_driver_sql(_SQLITE_LEAVES, [(*row, created) for row in _leaf_rows(new, ids)])
    return ids


def record_events(session: Session, rows: Sequence[EventRow]) -> list[int]:
    """Insert many events and their pending leaves (own and kind 2) at once: their ids, in the
    order of `rows`.

    The same rules as record_event, all or nothing: every row is checked first, and if any
    (kind, event_hash) is stored already, or appears twice in `rows`, DuplicateEventError names
    the first such row and nothing is written. One executemany per table, for producers that
    store events by the thousand.
    """
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
        raise StoreValueError("rows must be a sequence of event rows")
    if not rows:
        return []
    now = utcnow()
    events: list[dict[str, Any]] = []
    salts: list[bytes] = []
    links: list[tuple[int, int]] = []  # (row position, item id)
    keys: list[tuple[int, bytes]] = []
    seen: set[tuple[int, bytes]] = set()
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise StoreValueError(f"row {position} must be a mapping")
        try:
            hashed = row["event"]
            kind, event_hash, salt = _checked_event(hashed, row.get("salt"))
            recorded_by, shipment_id = row["recorded_by"], row.get("shipment_id")
        except KeyError as exc:
            raise StoreValueError(f"row {position} has no {exc.args[0]!r}") from None
        if (kind, event_hash) in seen:
            raise StoreValueError(f"row {position} repeats event 0x{event_hash.hex()}")
        seen.add((kind, event_hash))
        keys.append((kind, event_hash))
        salts.append(salt)
        links.extend((position, item_id) for item_id in sorted(set(row.get("item_ids", ()))))
        events.append(
            {
                "kind": kind,
                "event_hash": event_hash,
                "event_json": hashed.event_json,
                "event_type": hashed.event_type,
                "biz_step": hashed.biz_step,
                "event_time_ms": hashed.event_time_ms,
                "recorded_by": recorded_by,
                "shipment_id": shipment_id,
            }
        )
    leaf_hashes = [
        leaf_hash(kind, event_hash, salt)
        for (kind, event_hash), salt in zip(keys, salts, strict=True)
    ]
    members = member_rows(session, [(e["kind"], e["event_type"], e["event_json"]) for e in events])
    wanted = sorted({item_id for _, item_id in links})
    if wanted:
        known: set[int] = set()
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            known.update(session.scalars(select(Item.id).where(Item.id.in_(chunk))))
        if len(known) != len(wanted):
            raise NotFoundError(f"no items with ids {sorted(set(wanted) - known)}")
    # Events stored already are found by the insert itself (ON CONFLICT DO NOTHING), not by a
    # lookup first: on PostgreSQL a prepared lookup of a thousand keys, planned while the table
    # was small, scanned it (200 ms a call); on SQLite the lookup repeated the insert's index
    # search.
    postgresql = session.get_bind().dialect.name == "postgresql"
    try:
        # A savepoint, as in record_event: a lost race leaves the caller's transaction usable.
        new = _NewEvents(events, keys, salts, leaf_hashes, members, now)
        with session.begin_nested():
            insert_rows = _insert_postgresql if postgresql else _insert_sqlite
            ids = insert_rows(session, new)
            index_events(session, zip(ids, (e["event_json"] for e in events), strict=True))
            if links:
                session.execute(
                    insert(event_items),
                    [{"event_id": ids[pos], "item_id": item_id} for pos, item_id in links],
                )
    except (IntegrityError, _AlreadyStored):
        stored = _first_stored(session, keys)
        if stored is None:
            raise
        raise DuplicateEventError(*stored) from None
    return ids
