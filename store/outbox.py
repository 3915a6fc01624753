"""Recording events with their pending leaf (one transaction), and batching pending leaves."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Required, TypedDict

from sqlalchemy import JSON, Text, bindparam, cast, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from store._validate import bytes_of, hex32
from store.errors import DuplicateEventError, NotFoundError, StoreValueError
from store.models import AnchorBatch, BatchStatus, Event, EventKind, Item, Leaf, event_items
from store.models.types import utcnow

LeafHashFn = Callable[[int, bytes, bytes], bytes]
_MAX_INT64 = 2**63 - 1
# Values per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
_IN_CHUNK = 500
# The Core tables, for executemany statements without ORM bookkeeping.
_EVENTS = Event.metadata.tables["events"]
_LEAVES = Leaf.metadata.tables["leaves"]


def _existing_event_id(session: Session, kind: int, event_hash: bytes) -> int | None:
    return session.scalar(
        select(Event.id).where(Event.kind == kind, Event.event_hash == event_hash)
    )


class EventRow(TypedDict, total=False):
    """One event for record_events: the keyword arguments of record_event, by name."""

    kind: Required[int]
    event_hash: Required[bytes]
    event_json: Required[str]
    event_type: Required[str]
    biz_step: Required[str | None]
    event_time_ms: Required[int]
    recorded_by: Required[int | None]
    shipment_id: int | None
    item_ids: Iterable[int]
    salt: bytes | None


def _checked_event(
    kind: int,
    event_hash: bytes,
    event_json: str,
    event_type: str,
    biz_step: str | None,
    event_time_ms: int,
    salt: bytes | None,
) -> tuple[int, bytes, bytes]:
    """(kind, event_hash, salt) normalised; StoreValueError for any bad field."""
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
    *,
    kind: int,
    event_hash: bytes,
    event_json: str,
    event_type: str,
    biz_step: str | None,
    event_time_ms: int,
    recorded_by: int | None,
    shipment_id: int | None = None,
    item_ids: Iterable[int] = (),
    leaf_hash_fn: LeafHashFn,
    salt: bytes | None = None,
) -> Event:
    """Insert an event and its pending leaf in the caller's transaction (DESIGN: one transaction).

    `leaf_hash_fn(kind, event_hash, salt)` computes the leaf (core.merkle.leaf_hash); the salt is
    `salt` when given (a brand signed a root over salts it chose before), else 32 fresh random
    bytes. Raises DuplicateEventError if (kind, event_hash) is already stored.
    """
    kind, event_hash, salt = _checked_event(
        kind, event_hash, event_json, event_type, biz_step, event_time_ms, salt
    )
    wanted = sorted(set(item_ids))
    items = list(session.scalars(select(Item).where(Item.id.in_(wanted)))) if wanted else []
    if len(items) != len(wanted):
        missing = sorted(set(wanted) - {item.id for item in items})
        raise NotFoundError(f"no items with ids {missing}")

    existing = _existing_event_id(session, kind, event_hash)
    if existing is not None:
        raise DuplicateEventError(kind, event_hash, existing)
    leaf_hash = bytes_of(leaf_hash_fn(kind, event_hash, salt), 32, "leaf_hash_fn result")
    event = Event(
        kind=kind,
        event_hash=event_hash,
        event_json=event_json,
        event_type=event_type,
        biz_step=biz_step,
        event_time_ms=event_time_ms,
        recorded_by=recorded_by,
        shipment_id=shipment_id,
        items=items,
    )
    event.leaf = Leaf(salt=salt, leaf_hash=leaf_hash)
    try:
        # A savepoint, so losing a race to a concurrent identical insert leaves the caller's
        # transaction usable.
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        existing = _existing_event_id(session, kind, event_hash)
        if existing is None:
            raise
        raise DuplicateEventError(kind, event_hash, existing) from None
    return event


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
        for start in range(0, len(hashes), _IN_CHUNK):
            rows = session.execute(
                select(Event.event_hash, Event.id).where(
                    Event.kind == kind, Event.event_hash.in_(hashes[start : start + _IN_CHUNK])
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
    " CAST(:shipment_id AS int[])) AS u RETURNING kind, event_hash, id"
)
_PG_LEAVES = text(
    "INSERT INTO leaves (event_id, salt, leaf_hash, created_at)"
    " SELECT u.*, CAST(:created_at AS timestamptz) FROM unnest(CAST(:event_id AS int[]),"
    " CAST(:salt AS bytea[]), CAST(:leaf_hash AS bytea[])) AS u"
)
_EVENT_COLUMNS = (
    "kind", "event_hash", "event_json", "event_type", "biz_step", "event_time_ms", "recorded_by",
    "shipment_id",
)  # fmt: skip


def _insert_postgresql(
    session: Session,
    events: list[dict[str, Any]],
    keys: list[tuple[int, bytes]],
    salts: list[bytes],
    leaf_hashes: list[bytes],
    now: datetime,
) -> list[int]:
    columns: dict[str, Any] = {name: [e[name] for e in events] for name in _EVENT_COLUMNS}
    returned = session.execute(_PG_EVENTS, {**columns, "created_at": now})
    by_key = {(int(k), bytes(h)): int(i) for k, h, i in returned}
    ids = [by_key[key] for key in keys]
    session.execute(
        _PG_LEAVES, {"event_id": ids, "salt": salts, "leaf_hash": leaf_hashes, "created_at": now}
    )
    return ids


def record_events(
    session: Session, rows: Sequence[EventRow], leaf_hash_fn: LeafHashFn
) -> list[int]:
    """Insert many events and their pending leaves at once: their ids, in the order of `rows`.

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
            kind, event_hash, salt = _checked_event(
                row["kind"], row["event_hash"], row["event_json"], row["event_type"],
                row["biz_step"], row["event_time_ms"], row.get("salt"),
            )  # fmt: skip
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
            {"kind": kind, "event_hash": event_hash, "event_json": row["event_json"],
             "event_type": row["event_type"], "biz_step": row["biz_step"],
             "event_time_ms": row["event_time_ms"], "recorded_by": recorded_by,
             "shipment_id": shipment_id, "created_at": now}
        )  # fmt: skip
    leaf_hashes = [
        bytes_of(leaf_hash_fn(kind, event_hash, salt), 32, "leaf_hash_fn result")
        for (kind, event_hash), salt in zip(keys, salts, strict=True)
    ]
    wanted = sorted({item_id for _, item_id in links})
    if wanted:
        known: set[int] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            known.update(session.scalars(select(Item.id).where(Item.id.in_(chunk))))
        if len(known) != len(wanted):
            raise NotFoundError(f"no items with ids {sorted(set(wanted) - known)}")
    stored = _first_stored(session, keys)
    if stored is not None:
        raise DuplicateEventError(*stored)
    try:
        # A savepoint, as in record_event: a lost race leaves the caller's transaction usable.
        with session.begin_nested():
            if session.get_bind().dialect.name == "postgresql":
                ids = _insert_postgresql(session, events, keys, salts, leaf_hashes, now)
            else:
                # Ids matched by (kind, event_hash), not by RETURNING order: asking SQLAlchemy
                # to sort by parameter order makes SQLite insert one row per statement.
                returned = session.execute(
                    insert(_EVENTS).returning(_EVENTS.c.kind, _EVENTS.c.event_hash, _EVENTS.c.id),
                    events,
                )
                by_key = {(int(k), bytes(h)): int(i) for k, h, i in returned}
                ids = [by_key[key] for key in keys]
                session.execute(
                    insert(_LEAVES),
                    [
                        {"event_id": event_id, "salt": salt, "leaf_hash": leaf, "created_at": now}
                        for event_id, salt, leaf in zip(ids, salts, leaf_hashes, strict=True)
                    ],
                )
            if links:
                session.execute(
                    insert(event_items),
                    [{"event_id": ids[pos], "item_id": item_id} for pos, item_id in links],
                )
    except IntegrityError:
        stored = _first_stored(session, keys)
        if stored is None:
            raise
        raise DuplicateEventError(*stored) from None
    return ids


def pending_leaf_count(session: Session) -> int:
    """How many leaves wait in the outbox."""
    return session.scalar(select(func.count()).where(Leaf.batch_id.is_(None))) or 0


class PendingLeaf(NamedTuple):
    """A claimed leaf as claim_pending returns it: only what building a batch needs."""

    id: int
    event_id: int
    leaf_hash: bytes
    batch_id: int | None = None


def _claim_statement(session: Session, stmt: Any, limit: int) -> Any:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise StoreValueError(f"limit must be a positive integer, got {limit!r}")
    stmt = stmt.where(Leaf.batch_id.is_(None)).order_by(Leaf.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Leaf)
    return stmt


def claim_pending_leaves(session: Session, limit: int) -> list[Leaf]:
    """Up to `limit` pending leaves, oldest first, locked for this transaction.

    On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, so concurrent workers claim
    disjoint leaves; SQLite serialises writers (BEGIN IMMEDIATE) instead.
    """
    # The event rows (and their JSON) are not loaded: batching needs only the leaf columns.
    return list(session.scalars(_claim_statement(session, select(Leaf), limit)))


def claim_pending(session: Session, limit: int) -> list[PendingLeaf]:
    """claim_pending_leaves without ORM objects: (id, event_id, leaf_hash) rows, same locking.

    For the anchoring worker's batches of thousands, where loading ORM objects is the cost.
    """
    stmt = _claim_statement(session, select(Leaf.id, Leaf.event_id, Leaf.leaf_hash), limit)
    return [PendingLeaf(int(i), int(e), bytes(h)) for i, e, h in session.execute(stmt)]


class _ProofText:
    """Proofs as 0x-hex lists and as their JSON text, each distinct node converted once."""

    def __init__(self) -> None:
        self._hex: dict[bytes | str, str] = {}

    def node(self, node: bytes | str, position: int) -> str:
        if type(node) is bytes or type(node) is str:  # hashable: a tree repeats its nodes
            cached = self._hex.get(node)
            if cached is None:
                cached = self._hex[node] = self._convert(node, position)
            return cached
        return self._convert(node, position)

    @staticmethod
    def _convert(node: bytes | str, position: int) -> str:
        if isinstance(node, str):
            return hex32(node, f"proof {position} node")
        return "0x" + bytes_of(node, 32, f"proof {position} node").hex()

    def proof(self, proof: Sequence[bytes | str], position: int) -> list[str]:
        if isinstance(proof, bytes | str):
            raise StoreValueError(f"proof {position} must be a sequence of 32-byte hashes")
        return [self.node(node, position) for node in proof]


def _json_text(proof: list[str]) -> str:
    # Exactly json.dumps(proof): the nodes are 0x-hex, nothing in them needs escaping.
    return '["' + '", "'.join(proof) + '"]' if proof else "[]"


def create_batch(
    session: Session,
    root: bytes,
    leaves: Sequence[Leaf | PendingLeaf],
    proofs: Sequence[Sequence[bytes | str]],
) -> AnchorBatch:
    """A pending batch for `root`: leaf i of `leaves` gets leaf_index i and proofs[i].

    The caller builds the tree (core.merkle) over the leaves in this order; proofs are
    sibling hashes as bytes or 0x-hex. Every leaf must still be pending. A failed batch with
    the same root (the same leaves again) is revived rather than duplicated. `leaves` come from
    claim_pending_leaves or claim_pending in this transaction.
    """
    root = bytes_of(root, 32, "root")
    if not leaves:
        raise StoreValueError("a batch needs at least one leaf")
    if len(proofs) != len(leaves):
        raise StoreValueError(f"{len(leaves)} leaves but {len(proofs)} proofs")
    if len({leaf.id for leaf in leaves}) != len(leaves):
        raise StoreValueError("the same leaf appears twice in one batch")
    text = _ProofText()
    hex_proofs = [text.proof(proof, i) for i, proof in enumerate(proofs)]
    for leaf in leaves:
        if leaf.batch_id is not None:
            raise StoreValueError(f"leaf {leaf.id} already belongs to batch {leaf.batch_id}")
    batch = session.scalars(select(AnchorBatch).where(AnchorBatch.root == root)).one_or_none()
    if batch is None:
        batch = AnchorBatch(root=root, leaf_count=len(leaves), status=BatchStatus.PENDING)
        session.add(batch)
    elif batch.status is BatchStatus.FAILED:
        # The same leaves again after a failure give the same root: the batch row comes back.
        batch.status, batch.leaf_count, batch.error = BatchStatus.PENDING, len(leaves), None
        batch.tx_hash = batch.raw_tx = batch.nonce = batch.sent_at = None
    else:
        raise StoreValueError(f"a batch with root 0x{root.hex()} already exists")
    session.flush()
    # One executemany UPDATE with the proofs as ready JSON text, rather than the unit of work's
    # per-object bookkeeping and a json.dumps per leaf.
    table = _LEAVES
    proof_param: Any = bindparam("b_proof", type_=Text())
    if session.get_bind().dialect.name == "postgresql":
        proof_param = cast(proof_param, JSON)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(batch_id=bindparam("b_batch"), leaf_index=bindparam("b_index"), proof=proof_param),
        [
            {"b_id": leaf.id, "b_batch": batch.id, "b_index": i, "b_proof": _json_text(proof)}
            for i, (leaf, proof) in enumerate(zip(leaves, hex_proofs, strict=True))
        ],
    )
    # Loaded Leaf objects get the same values as committed state: current, and not dirty.
    for index, (leaf, proof) in enumerate(zip(leaves, hex_proofs, strict=True)):
        if isinstance(leaf, Leaf):
            set_committed_value(leaf, "batch_id", batch.id)
            set_committed_value(leaf, "leaf_index", index)
            set_committed_value(leaf, "proof", proof)
    return batch
