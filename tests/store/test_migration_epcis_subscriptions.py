"""Revision 0020_epcis_subscriptions on a store the previous revision populated: the events stay
as they were, the three new tables start empty, a subscription made afterwards streams the
events recorded before the upgrade, and a downgrade drops only the new tables."""

from __future__ import annotations

import importlib
from datetime import timedelta

import sqlalchemy as sa

from core.epcis.extension import event_context
from core.epcis.hashed_event import HashedEvent
from store.db import downgrade, make_engine, session_factory, transaction, upgrade
from store.epcis_subscriptions import create_query, subscribe
from store.models import Role
from store.models.types import utcnow
from store.subscription_outbox import enqueue, safe_watermark

REVISION = importlib.import_module("store.migrations.versions.0020_epcis_subscriptions")
PREVIOUS = str(REVISION.down_revision)  # whatever the coordinator chains it to
NEW_TABLES = {"epcis_named_queries", "epcis_subscriptions", "epcis_deliveries"}


def _event(n: int) -> HashedEvent:
    return HashedEvent.of(
        {
            "@context": event_context(),
            "type": "ObjectEvent",
            "eventTime": f"2026-01-0{n}T10:00:00.000Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [f"urn:epc:id:sgtin:0614141.012345.{n}"],
            "action": "OBSERVE",
        }
    )


def test_0020_adds_the_subscription_tables_to_a_populated_store(empty_db_url: str) -> None:
    assert REVISION.revision == "0020_epcis_subscriptions"
    upgrade(empty_db_url, PREVIOUS)
    engine = make_engine(empty_db_url)
    sessions = session_factory(engine)
    try:
        assert not NEW_TABLES & set(sa.inspect(engine).get_table_names())
        # Written as the previous release's schema holds them (today's recording code also
        # fills tables of later revisions).
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('partner', :role, CURRENT_TIMESTAMP)"
                ),
                {"role": Role.BUYER.value},
            )
            owner = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            for n in (1, 2, 3):
                hashed = _event(n)
                conn.execute(
                    sa.text(
                        "INSERT INTO events (kind, event_hash, event_json, event_type,"
                        " event_time_ms, recorded_by, created_at) VALUES (0, :hash, :json,"
                        " 'ObjectEvent', :ms, :owner, CURRENT_TIMESTAMP)"
                    ),
                    {"hash": hashed.event_hash, "json": hashed.event_json, "ms": n, "owner": owner},
                )
            stored = list(conn.execute(sa.text("SELECT id FROM events ORDER BY id")).scalars())
        with engine.connect() as conn:
            before = conn.execute(sa.text("SELECT id, event_json FROM events ORDER BY id")).all()
        engine.dispose()

        upgrade(empty_db_url)
        assert set(sa.inspect(engine).get_table_names()) >= NEW_TABLES
        with engine.connect() as conn:
            after = conn.execute(sa.text("SELECT id, event_json FROM events ORDER BY id")).all()
            for table in NEW_TABLES:
                assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0
        assert after == before
        with transaction(sessions) as session:
            query = create_query(session, owner, "all", {})
            sub = subscribe(
                session,
                query,
                dest="http://127.0.0.1:9/hook",
                signature_token=None,
                report_if_empty=False,
                initial_record_time=utcnow() - timedelta(days=1),
            )
            mark = safe_watermark(session, sub.cursor_event_id, gap_wait=timedelta(0))
            assert mark == stored[-1]  # the events from before the upgrade are in reach
            delivery = enqueue(session, sub, stored, mark)
            assert delivery is not None and delivery.event_ids == stored
        engine.dispose()

        downgrade(empty_db_url, PREVIOUS)
        assert not NEW_TABLES & set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT id, event_json FROM events ORDER BY id")).all()
        assert kept == before
        engine.dispose()
        upgrade(empty_db_url)
    finally:
        engine.dispose()
