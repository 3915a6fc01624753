"""Kind 2 leaves on a real anvil: they anchor with their event and every proof verifies on
TraceAnchorV2.verifyMember; a worker whose deployment has only TraceAnchor v1 leaves them in
the outbox (v1 cannot verify them) and anchors the events' own leaves."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.releases import TRACE_ANCHOR_V2
from core.epcis.events import shipment_event
from core.epcis.hashed_event import HashedEvent
from core.epcis.projection import projection_hash
from store.models import AnchorBatch, BatchStatus, Event, Leaf
from store.models.events import MEMBER_KIND
from tests.utils.anvil import ChainEnv
from tests.utils.workers import anchor_worker

EPCS = [f"urn:epc:id:sgtin:0614141.107346.M{i}" for i in range(3)]


def _record_shipping(sessions: sessionmaker[Session]) -> int:
    event = shipment_event("shipping", EPCS, datetime(2026, 3, 1, 12, tzinfo=UTC), "0x" + "5e" * 32)
    with store.transaction(sessions) as session:
        return store.record_event(session, HashedEvent.of(event), recorded_by=None).id


def _verified_members(env: ChainEnv, sessions: sessionmaker[Session], event_id: int) -> int:
    """How many of the event's kind 2 leaves verifyMember accepts on chain (all must be)."""
    count = 0
    with sessions() as session:
        for leaf in session.get_one(Event, event_id).member_leaves:
            proof = store.leaf_proof(leaf, leaf.batch)
            assert proof is not None and leaf.batch is not None
            assert leaf.batch.anchor_version == 2
            projected = json.loads(str(leaf.projection_json))
            assert env.anchor.contract.functions.verifyMember(
                0, projection_hash(projected), leaf.salt, [bytes.fromhex(p[2:]) for p in proof]
            ).call()
            count += 1
    return count


def test_a_shipping_event_of_three_epcs_anchors_four_leaves_and_each_projection_verifies(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    event_id = _record_shipping(db_sessions)
    report = anchor_worker(env, db_url, db_sessions).run_once()
    assert len(report.anchored) == 1
    with db_sessions() as session:
        batch = session.scalars(select(AnchorBatch)).one()
        assert batch.status is BatchStatus.ANCHORED and batch.leaf_count == 1 + 3
        assert env.anchor.root_info(batch.root).leaf_count == 4
    assert _verified_members(env, db_sessions, event_id) == 3
    # A leaf that is not in the root does not verify (the check can fail).
    with db_sessions() as session:
        leaf = session.get_one(Event, event_id).member_leaves[0]
        proof = [bytes.fromhex(p[2:]) for p in store.leaf_proof(leaf, leaf.batch) or []]
        assert not env.anchor.contract.functions.verifyMember(
            0, b"\x01" * 32, leaf.salt, proof
        ).call()


def test_with_only_trace_anchor_v1_kind_2_leaves_wait_in_the_outbox(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    event_id = _record_shipping(db_sessions)
    v1_only = replace(
        env.deployment,
        releases=tuple(r for r in env.deployment.releases if r.spec != TRACE_ANCHOR_V2),
    )
    stale = anchor_worker(env, db_url, db_sessions, deployment=v1_only)
    assert len(stale.run_once().anchored) == 1
    assert stale.run_once().signed == []  # nothing more it may anchor
    with db_sessions() as session:
        batch = session.scalars(select(AnchorBatch)).one()
        assert batch.anchor_version == 1 and batch.leaf_count == 1
        waiting = session.scalars(select(Leaf).where(Leaf.batch_id.is_(None))).all()
        assert sorted(leaf.kind for leaf in waiting) == [MEMBER_KIND] * 3
    assert len(anchor_worker(env, db_url, db_sessions).run_once().anchored) == 1
    assert _verified_members(env, db_sessions, event_id) == 3
