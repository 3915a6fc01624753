"""`chaintrace backfill-projections` on a store populated before migration 0023: exactly one kind
2 leaf per projected EPC of every event (anchored or not), pending, then anchored by the worker
on TraceAnchor v2; a second run creates none."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import store
from chaintrace.backfill import backfill_projections
from chaintrace.cli import app
from core.epcis.events import dump, shipment_event
from core.epcis.hashed_event import HashedEvent
from core.epcis.projection import projected_epcs, projection, projection_hash
from core.merkle import leaf_hash, member_leaf_hash
from store.db import downgrade, make_engine, session_factory, upgrade
from store.models import Event, Leaf
from store.models.events import MEMBER_KIND
from tests.utils.anvil import (  # noqa: F401 (pytest fixtures: chain_snapshot and what it uses)
    ChainEnv,
    anvil_node,
    chain_env,
    chain_snapshot,
)
from tests.utils.workers import anchor_worker

BEFORE = "0022_event_epc_index"
EPCS = [f"urn:epc:id:sgtin:0614141.107346.B{i}" for i in range(3)]


def _bodies() -> list[dict[str, object]]:
    at = datetime(2026, 2, 1, 9, tzinfo=UTC)
    shipping = [
        json.loads(
            dump(shipment_event("shipping", EPCS[: n + 1], at.replace(minute=n), "0x" + "5e" * 32))
        )
        for n in range(3)
    ]
    association = {
        "type": "AssociationEvent",
        "eventTime": "2026-02-01T09:10:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": "urn:epc:id:grai:0614141.12345.1",
        "childEPCs": [EPCS[0]],
        "action": "ADD",
    }
    return [*shipping, association]


def _populate_old_store(url: str) -> None:
    """Events and their leaves as the previous release wrote them; two in a final batch."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO anchor_batches (root, leaf_count, status, anchor_version,"
                    " created_at) VALUES (:root, 2, 'final', 1, CURRENT_TIMESTAMP)"
                ),
                {"root": secrets.token_bytes(32)},
            )
            batch = conn.execute(sa.text("SELECT id FROM anchor_batches")).scalar_one()
            for n, body in enumerate(_bodies()):
                hashed = HashedEvent.of(body)
                event_id = conn.execute(
                    sa.text(
                        "INSERT INTO events (kind, event_hash, event_json, event_type,"
                        " event_time_ms, created_at) VALUES (0, :hash, :json, :type, :time,"
                        " CURRENT_TIMESTAMP) RETURNING id"
                    ),
                    {
                        "hash": hashed.event_hash,
                        "json": hashed.event_json,
                        "type": hashed.event_type,
                        "time": hashed.event_time_ms,
                    },
                ).scalar_one()
                salt = secrets.token_bytes(32)
                conn.execute(
                    sa.text(
                        "INSERT INTO leaves (event_id, salt, leaf_hash, batch_id, leaf_index,"
                        " created_at) VALUES (:event, :salt, :leaf, :batch, :index,"
                        " CURRENT_TIMESTAMP)"
                    ),
                    {
                        "event": event_id,
                        "salt": salt,
                        "leaf": leaf_hash(0, hashed.event_hash, salt),
                        "batch": batch if n < 2 else None,
                        "index": n if n < 2 else None,
                    },
                )
    finally:
        engine.dispose()


@pytest.fixture
def old_store(empty_db_url: str) -> Iterator[tuple[str, sessionmaker[Session]]]:
    upgrade(empty_db_url, BEFORE)
    _populate_old_store(empty_db_url)
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        yield empty_db_url, session_factory(engine)
    finally:
        engine.dispose()


def _members(sessions: sessionmaker[Session]) -> dict[int, list[Leaf]]:
    with sessions() as session:
        out: dict[int, list[Leaf]] = {}
        for leaf in session.scalars(select(Leaf).where(Leaf.kind == MEMBER_KIND).order_by(Leaf.id)):
            out.setdefault(leaf.event_id, []).append(leaf)
        return out


def test_the_backfill_makes_one_kind_2_leaf_per_projected_epc_once_and_the_worker_anchors_them(
    chain_snapshot: ChainEnv,  # noqa: F811 (the fixture)
    old_store: tuple[str, sessionmaker[Session]],
) -> None:
    url, sessions = old_store
    assert _members(sessions) == {}
    first = backfill_projections(sessions, batch_size=2)  # several rounds
    assert (first.events, first.leaves) == (3, 1 + 2 + 3)  # not the AssociationEvent
    again = backfill_projections(sessions, batch_size=2)
    assert again.leaves == 0
    members = _members(sessions)
    with sessions() as session:
        events = {e.id: e for e in session.scalars(select(Event))}
        for event_id, event in events.items():
            body = json.loads(event.event_json)
            epcs = [p.epc for p in projected_epcs(body)]
            assert [leaf.epc for leaf in members.get(event_id, [])] == epcs
            for leaf in members.get(event_id, []):
                projected = json.loads(str(leaf.projection_json))
                assert projected == projection(body, leaf.epc)
                assert leaf.leaf_hash == member_leaf_hash(0, projection_hash(projected), leaf.salt)
                assert leaf.batch_id is None  # pending, the anchored events' too
    report = anchor_worker(chain_snapshot, url, sessions).run_once()
    assert len(report.anchored) == 1
    for leaves in _members(sessions).values():
        for leaf in leaves:
            with sessions() as session:
                stored = session.get_one(Leaf, leaf.id)
                proof = store.leaf_proof(stored, stored.batch)
                assert stored.batch is not None and stored.batch.anchor_version == 2
                assert proof is not None
                assert chain_snapshot.anchor.contract.functions.verifyMember(
                    0,
                    projection_hash(json.loads(str(stored.projection_json))),
                    stored.salt,
                    [bytes.fromhex(p[2:]) for p in proof],
                ).call()
    with pytest.raises(RuntimeError, match="kind 2 leaves are stored"):
        downgrade(url, BEFORE)


def test_the_command_reports_what_it_made_and_a_second_run_makes_nothing(
    old_store: tuple[str, sessionmaker[Session]],
) -> None:
    url, _ = old_store
    env: dict[str, str | None] = {"DATABASE_URL": url, "CHAINTRACE_DEV": None}
    result = CliRunner().invoke(app, ["backfill-projections", "--batch-size", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert "6 kind 2 leaves created for 3 events" in result.output
    result = CliRunner().invoke(app, ["backfill-projections"], env=env)
    assert result.exit_code == 0 and "0 kind 2 leaves created" in result.output, result.output
