"""Recording events with their pending leaf (one transaction), and batching pending leaves."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from store._validate import bytes_of, hex32
from store.errors import DuplicateEventError, NotFoundError, StoreValueError
from store.models import AnchorBatch, BatchStatus, Event, EventKind, Item, Leaf

LeafHashFn = Callable[[int, bytes, bytes], bytes]
_MAX_INT64 = 2**63 - 1


def _existing_event_id(session: Session, kind: int, event_hash: bytes) -> int | None:
    return session.scalar(
        select(Event.id).where(Event.kind == kind, Event.event_hash == event_hash)
    )


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


def pending_leaf_count(session: Session) -> int:
    """How many leaves wait in the outbox."""
    return session.scalar(select(func.count()).where(Leaf.batch_id.is_(None))) or 0


def claim_pending_leaves(session: Session, limit: int) -> list[Leaf]:
    """Up to `limit` pending leaves, oldest first, locked for this transaction.

    On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED, so concurrent workers claim
    disjoint leaves; SQLite serialises writers (BEGIN IMMEDIATE) instead.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise StoreValueError(f"limit must be a positive integer, got {limit!r}")
    stmt = (
        select(Leaf)
        .where(Leaf.batch_id.is_(None))
        .order_by(Leaf.id)
        .limit(limit)
        .options(selectinload(Leaf.event))
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Leaf)
    return list(session.scalars(stmt))


def _proof_hex(proof: Sequence[bytes | str], position: int) -> list[str]:
    if isinstance(proof, bytes | str):
        raise StoreValueError(f"proof {position} must be a sequence of 32-byte hashes")
    out = []
    for node in proof:
        if isinstance(node, str):
            out.append(hex32(node, f"proof {position} node"))
        else:
            out.append("0x" + bytes_of(node, 32, f"proof {position} node").hex())
    return out


def create_batch(
    session: Session,
    root: bytes,
    leaves: Sequence[Leaf],
    proofs: Sequence[Sequence[bytes | str]],
) -> AnchorBatch:
    """A pending batch for `root`: leaf i of `leaves` gets leaf_index i and proofs[i].

    The caller builds the tree (core.merkle) over the leaves in this order; proofs are
    sibling hashes as bytes or 0x-hex. Every leaf must still be pending. A failed batch with
    the same root (the same leaves again) is revived rather than duplicated.
    """
    root = bytes_of(root, 32, "root")
    if not leaves:
        raise StoreValueError("a batch needs at least one leaf")
    if len(proofs) != len(leaves):
        raise StoreValueError(f"{len(leaves)} leaves but {len(proofs)} proofs")
    if len({leaf.id for leaf in leaves}) != len(leaves):
        raise StoreValueError("the same leaf appears twice in one batch")
    hex_proofs = [_proof_hex(proof, i) for i, proof in enumerate(proofs)]
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
    for index, (leaf, proof) in enumerate(zip(leaves, hex_proofs, strict=True)):
        leaf.batch_id = batch.id
        leaf.leaf_index = index
        leaf.proof = proof
    session.flush()
    return batch
