"""Capture checks and hashes the events outside any transaction: on SQLite the request's
transaction (begun by the key's look-up, BEGIN IMMEDIATE) holds the write lock, which the
anchoring worker then waited for (bench/capture.py: "database is locked" at its BEGIN, and
capture -> final latency growing with the documents' size)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.routes import epcis_capture
from tests.api.flows import Api, auth


def _event(serial: int) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "eventTime": "2026-07-22T06:45:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": [f"urn:epc:id:sgtin:0614141.107346.{serial}"],
    }


def _nothing_held(engine: Engine) -> bool:
    """Whether no transaction of the API holds the database: on SQLite another connection takes
    the write lock at once; on PostgreSQL no session of this database is idle in a transaction."""
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            probe.close()
    with engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return held == 0


def test_events_are_checked_and_hashed_with_no_transaction_open(
    api_no_chain: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    seen: list[tuple[str, bool]] = []
    check_document, check_event = epcis_capture.check_document, epcis_capture.check_event

    def probing_document(doc: Any) -> Any:
        seen.append(("document", _nothing_held(api.engine)))
        return check_document(doc)

    def probing_event(event: Any) -> Any:
        seen.append(("event", _nothing_held(api.engine)))
        return check_event(event)

    monkeypatch.setattr(epcis_capture, "check_document", probing_document)
    monkeypatch.setattr(epcis_capture, "check_event", probing_event)
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T07:00:00Z",
        "epcisBody": {"eventList": [_event(1), _event(2)]},
    }
    answer = api.client.post("/epcis/capture", json=doc, headers=auth(key))
    assert answer.status_code == 202, answer.text
    one = {"@context": doc["@context"], **_event(3)}
    answer = api.client.post("/epcis/events", json=one, headers=auth(key))
    assert answer.status_code == 201, answer.text
    assert seen == [("document", True), ("event", True)]
