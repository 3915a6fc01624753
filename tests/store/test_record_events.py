"""record_events and claim_pending: the bulk outbox paths, checked against the one-by-one ones."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.merkle import MerkleTree, leaf_hash, verify
from store.db import transaction
from store.errors import DuplicateEventError, NotFoundError, StoreValueError
from store.models import Event, Leaf
from store.models.types import utcnow
from store.outbox import (
    claim_pending,
    claim_pending_leaves,
    create_batch,
    leaf_proof,
    pending_leaf_count,
)
from store.queries import batch_leaves
from store.recording import EventRow
from store.recording import record_events as store_events
from tests.utils.store_factories import (
    hashed_event,
    make_event,
    make_item,
    make_principal,
    make_product,
)

_ROW_KEYS = ("recorded_by", "shipment_id", "item_ids", "salt")


def _row(n: int, **overrides: Any) -> EventRow:
    """A row: the event's fields and the row's own (recorded_by, item_ids, salt) by name."""
    row: EventRow = {"event": hashed_event(n), "recorded_by": None}
    row.update({k: v for k, v in overrides.items() if k in _ROW_KEYS})  # type: ignore[typeddict-item]
    fields = {k: v for k, v in overrides.items() if k not in _ROW_KEYS}
    row["event"] = replace(row["event"], **fields)
    return row


def _events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


def test_record_events_stores_events_leaves_and_items_in_order(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        recorder = make_principal(session)
        product = make_product(session)
        items = [make_item(session, product).id for _ in range(2)]
        salt = secrets.token_bytes(32)
        rows = [_row(i, recorded_by=recorder.id) for i in range(5)]
        rows[1]["item_ids"] = items
        rows[2]["salt"] = salt
        rows[3] = _row(3, recorded_by=recorder.id, kind=1)
        before = utcnow()
        ids = store_events(session, rows)
        orm_id = make_event(session).id  # stored the ORM way, for the timestamps' form
    assert len(ids) == 5 and ids == sorted(ids)
    with db_sessions() as session:
        for event_id, row in zip(ids, rows, strict=True):
            event, sent = session.get_one(Event, event_id), row["event"]
            assert event.event_hash == sent.event_hash and event.kind == sent.kind
            assert event.event_json == sent.event_json and event.recorded_by == recorder.id
            assert (event.event_type, event.biz_step, event.event_time_ms) == (
                sent.event_type,
                sent.biz_step,
                sent.event_time_ms,
            )
            leaf = event.leaf
            assert leaf is not None and leaf.batch_id is None and leaf.proof is None
            assert event.created_at.tzinfo is not None and event.created_at == leaf.created_at
            assert before <= event.created_at <= utcnow()
            assert leaf.leaf_hash == leaf_hash(event.kind, event.event_hash, leaf.salt)
        assert sorted(i.id for i in session.get_one(Event, ids[1]).items) == items
        leaf_2 = session.get_one(Event, ids[2]).leaf
        assert leaf_2 is not None and leaf_2.salt == salt
        assert pending_leaf_count(session) == 6
        assert len({leaf.salt for leaf in session.scalars(select(Leaf))}) == 6
        # Stored in the same form as the ORM stores it: comparisons in SQL order them right.
        raw = {i: c for i, c in session.execute(text("SELECT id, created_at FROM events"))}
        assert {type(raw[i]) for i in ids} == {type(raw[orm_id])}
        if isinstance(raw[orm_id], str):
            assert {len(raw[i]) for i in ids} == {len(raw[orm_id])}
        later = select(func.count()).where(Event.created_at >= before, Event.id.in_(ids))
        assert session.scalar(later) == 5


def test_record_events_is_all_or_nothing(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        stored = make_event(session)
        stored_id, stored_hash = stored.id, stored.event_hash
    with transaction(db_sessions) as session:
        with pytest.raises(DuplicateEventError) as info:
            store_events(session, [_row(1), _row(2, event_hash=stored_hash)])
        assert info.value.existing_event_id == stored_id
        repeated = secrets.token_bytes(32)
        with pytest.raises(StoreValueError, match="row 1 repeats"):
            store_events(session, [_row(1, event_hash=repeated), _row(2, event_hash=repeated)])
        with pytest.raises(NotFoundError):
            store_events(session, [_row(1), _row(2, item_ids=[10**6])])
        for bad in (
            {"kind": 7},
            {"event_hash": b"short"},
            {"event_json": ""},
            {"event_type": "x" * 65},
            {"biz_step": 5},
            {"event_time_ms": -1},
            {"event_time_ms": True},
            {"salt": b"\x00" * 31},
        ):
            with pytest.raises(StoreValueError):
                store_events(session, [_row(1), _row(2, **bad)])
        broken = dict(_row(1))
        del broken["recorded_by"]
        with pytest.raises(StoreValueError, match="recorded_by"):
            store_events(session, [broken])  # type: ignore[list-item]
        with pytest.raises(StoreValueError):
            store_events(session, [1])  # type: ignore[list-item]
        with pytest.raises(StoreValueError):
            store_events(session, _row(1))  # type: ignore[arg-type]
        with pytest.raises(StoreValueError):
            store_events(session, [{"event": {"kind": 0}, "recorded_by": None}])  # type: ignore[list-item]
        assert store_events(session, []) == []
        # The transaction is still usable after every refusal.
        store_events(session, [_row(3)])
    with db_sessions() as session:
        assert _events(session) == 2


def test_claim_pending_batches_like_claim_pending_leaves(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        ids = store_events(session, [_row(i) for i in range(7)])
    with transaction(db_sessions) as session:
        with pytest.raises(StoreValueError):
            claim_pending(session, 0)
        claimed = claim_pending(session, 5)
        assert [leaf.event_id for leaf in claimed] == ids[:5]
        assert [leaf.id for leaf in claimed] == [
            leaf.id for leaf in claim_pending_leaves(session, 5)
        ]
        tree = MerkleTree.build([leaf.leaf_hash for leaf in claimed])
        batch = create_batch(session, tree, claimed)
        batch_id, root = batch.id, batch.root
    with db_sessions() as session:
        leaves = batch_leaves(session, batch_id)
        assert [leaf.event_id for leaf in leaves] == ids[:5]
        assert [leaf.leaf_index for leaf in leaves] == list(range(5))
        for leaf in leaves:
            proof = leaf_proof(leaf, leaf.batch)
            assert proof is not None and all(node.startswith("0x") for node in proof)
            assert verify(root, leaf.leaf_hash, [bytes.fromhex(n[2:]) for n in proof])
        assert [leaf.event_id for leaf in claim_pending(session, 10)] == ids[5:]
