"""A store holding real EPCIS events anchored on anvil, and the auditor's report on it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

import store
from chaintrace.audit import AuditReport, audit, records_from_store
from core.epcis import event_hash
from core.epcis.hashed_event import HashedEvent
from tests.utils import workers
from tests.utils.anvil import ChainEnv

N = 12


def epcis_event(n: int) -> dict[str, object]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-11-22T10:{n:02d}:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{n}"],
        "action": "OBSERVE",
        "bizStep": "shipping",
    }


def anchor_events(env: ChainEnv, db_url: str, sessions: sessionmaker[Session]) -> None:
    """N real EPCIS events stored (each with its kind 2 leaf), anchored in two batches and
    final."""
    with store.transaction(sessions) as session:
        for n in range(N):
            body = epcis_event(n)
            hashed = HashedEvent(
                0, event_hash(body), json.dumps(body), "ObjectEvent", "shipping", n
            )
            store.record_event(session, hashed, recorded_by=None)
    worker = workers.anchor_worker(env, db_url, sessions, confirmations=1, max_batch_size=N)
    worker.run_once()
    env.w3.provider.make_request("anvil_mine", ["0x2"])  # type: ignore[arg-type]
    worker.run_once()
    with sessions() as session:
        assert store.pending_leaf_count(session) == 0


@pytest.fixture
def anchored(
    chain_snapshot: ChainEnv,
    db_url: str,
    db_sessions: sessionmaker[Session],
) -> ChainEnv:
    """N real EPCIS events stored, anchored in two batches and final (reverted after)."""
    anchor_events(chain_snapshot, db_url, db_sessions)
    return chain_snapshot


def audited(env: ChainEnv, sessions: sessionmaker[Session]) -> AuditReport:
    """The auditor's report on the store, checked against the chain."""
    return audit(records_from_store(sessions), env.anchors, env.deployment.roots_anchor.block)
