"""Erasing one event's personal data on a store anchored on anvil: its salt and JSON go, its
leaf and root stay, every other proof still verifies on chain, and the audit reports it as
erased (when, by whom), not as failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

import store
from chaintrace.audit import audit, read_export, records_from_store, write_export
from core.epcis import event_hash
from core.epcis.hashed_event import HashedEvent
from store.admin_log import Actor, admin_log_page, record_admin_action
from store.erasure import ErasureRefused, erase_event
from store.models import Event, EventErasure, Leaf
from tests.utils.anchored_store import N, audited, epcis_event
from tests.utils.anchored_store import anchored as anchored  # the fixture
from tests.utils.anvil import (  # noqa: F401 (pytest fixtures: chain_snapshot and what it uses)
    ChainEnv,
    anvil_node,
    chain_env,
    chain_snapshot,
)


def _third_event(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalars(select(Event.id).order_by(Event.id)).all()[2]


def test_an_erased_event_is_reported_erased_and_every_other_proof_still_verifies(
    anchored: ChainEnv, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    event_id = _third_event(db_sessions)
    with store.transaction(db_sessions) as session:
        own = select(Leaf).where(Leaf.event_id == event_id, Leaf.kind == 0)
        before = session.scalars(own).one().leaf_hash
        erased_hash = "0x" + session.get_one(Event, event_id).event_hash.hex()
        erase_event(session, event_id, Actor.cli("dpo"), "data subject request 2026-41")
    with db_sessions() as session:
        event = session.get_one(Event, event_id)
        leaf = session.scalars(own).one()
        assert event.event_json == "" and leaf.salt == b""  # gone
        (member,) = event.member_leaves  # its kind 2 leaf: salt and projection gone too
        assert (member.salt, member.projection_json) == (b"", "")
        assert leaf.leaf_hash == before  # its tree and root untouched
        assert "urn:epc:id:sgtin:4012345.011111.2" not in event.event_json
        (logged,) = admin_log_page(session, action="event.erase")
        assert logged.target == f"event {event_id}" and logged.actor == "cli:dpo"
        assert logged.details["reason"] == "data subject request 2026-41"
    report = audited(anchored, db_sessions)
    assert report.ok, report.failures
    assert report.proofs_verified_on_chain == N - 1  # every other event, with eth_call
    assert report.projections_verified_on_chain == N - 1  # and its kind 2 leaf
    assert report.roots_rebuilt == report.batches == 2  # the erased leaf still in its tree
    (erased,) = report.erased
    assert erased["erasedBy"] == "cli:dpo" and erased["erasedAt"] is not None
    assert erased["eventId"] == str(event_id) and erased["adminLogEntry"] == str(logged.id)
    assert erased["status"] == f"erased: content unverifiable, leaf proven in root {erased['root']}"
    # Nothing in the report or the export would confirm a guess of the erased content.
    assert erased_hash not in str(report.as_dict())
    export = tmp_path / "export.json"
    write_export(records_from_store(db_sessions), export)
    assert erased_hash not in export.read_text()
    rechecked = audit(read_export(export), anchored.anchors, anchored.deployment.roots_anchor.block)
    assert rechecked.ok and rechecked.erased == report.erased


def test_a_fake_erasure_cannot_hide_tampering(
    anchored: ChainEnv, db_sessions: sessionmaker[Session]
) -> None:
    """An operator who edits an event, then blanks its JSON and salt and adds an erasure row
    (no admin-log entry: the log is append-only and written by erase_event) is named."""
    event_id = _third_event(db_sessions)
    with store.transaction(db_sessions) as session:
        event = session.get_one(Event, event_id)
        event.biz_step, event.event_time_ms = "receiving", 999
        event.event_json = ""
        session.execute(
            update(Leaf).where(Leaf.event_id == event_id).values(salt=b"", projection_json="")
        )
        session.add(EventErasure(event_id=event_id, erased_by="cli:dpo", reason="GDPR"))
    report = audited(anchored, db_sessions)
    assert not report.ok and report.erased == []
    assert report.failures == [f"erasure of event {event_id} has no admin-log record"]
    # A log entry for another event's erasure does not cover it either.
    other = _third_event(db_sessions) + 1
    with store.transaction(db_sessions) as session:
        erase_event(session, other, Actor.cli("dpo"), "request")
        record_admin_action(
            session, Actor.cli("mallory"), "event.erase", f"event {event_id}", {"leaf": "0x00"}
        )
    report = audited(anchored, db_sessions)
    assert [e["eventId"] for e in report.erased] == [str(other)]
    (failure,) = report.failures
    assert failure.startswith(f"erasure of event {event_id}: its admin-log record (entry")


def test_an_erasure_cannot_be_hidden_from_the_audit(
    anchored: ChainEnv, db_sessions: sessionmaker[Session]
) -> None:
    """Without its erasure record an erased event is a broken record: named, not passed."""
    event_id = _third_event(db_sessions)
    with store.transaction(db_sessions) as session:
        erase_event(session, event_id, Actor.cli("dpo"), "request")
    with store.transaction(db_sessions) as session:
        session.execute(delete(EventErasure))
    report = audited(anchored, db_sessions)
    assert not report.ok and report.erased == []
    # The event, and its kind 2 leaf (no projection to check it against the event).
    assert len(report.failures) == 2 and "stored JSON does not hash" in report.failures[0]
    assert report.failures[1].startswith(f"kind 2 leaf of event {event_id} ")


def test_an_erasure_is_refused_twice_before_anchoring_and_for_unknown_events(
    anchored: ChainEnv, db_sessions: sessionmaker[Session]
) -> None:
    event_id = _third_event(db_sessions)
    with store.transaction(db_sessions) as session:
        erase_event(session, event_id, Actor.cli("dpo"), "request")
    with (
        pytest.raises(ErasureRefused, match="was erased at"),
        store.transaction(db_sessions) as session,
    ):
        erase_event(session, event_id, Actor.cli("dpo"), "again")
    with store.transaction(db_sessions) as session:
        body = epcis_event(N + 1)
        hashed = HashedEvent(0, event_hash(body), json.dumps(body), "ObjectEvent", "shipping", 1)
        pending = store.record_event(session, hashed, recorded_by=None).id
    with (
        pytest.raises(ErasureRefused, match="not anchored yet"),
        store.transaction(db_sessions) as session,
    ):
        erase_event(session, pending, Actor.cli("dpo"), "too early")
    with pytest.raises(store.NotFoundError), store.transaction(db_sessions) as session:
        erase_event(session, 10**9, Actor.cli("dpo"), "no such event")
    with pytest.raises(store.StoreValueError), store.transaction(db_sessions) as session:
        erase_event(session, event_id, Actor.cli("dpo"), " ")
    with db_sessions() as session:
        assert len(admin_log_page(session, action="event.erase")) == 1  # refusals log nothing
