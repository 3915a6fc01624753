"""EPCIS 2.0 capture (POST /epcis/capture, its jobs, POST /epcis/events), SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.limits import MAX_BODY_BYTES
from api.main import create_app
from api.settings import ApiSettings
from core.epcis.hashing import event_id
from store.db import session_factory
from store.models import CaptureJob, Event, EventCapturer
from store.outbox import claim_pending_leaves
from tests.api.flows import PUBLIC_BASE_URL, Api, auth, ok


def _event(serial: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "eventTime": "2026-07-22T06:45:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": [f"urn:epc:id:sgtin:0614141.107346.{serial}"],
        **extra,
    }


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"example": "https://ns.example.com/epcis/"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T07:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _capture(
    api: Api, key: str, doc: dict[str, Any], status: int = 202, **headers: str
) -> dict[str, Any]:
    answer = api.client.post("/epcis/capture", json=doc, headers={**auth(key), **headers})
    assert answer.status_code == status, answer.text
    if status != 202:
        return dict(answer.json())
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    return dict(ok(api.client.get(answer.headers["Location"], headers=auth(key))))


def _events(api: Api) -> list[Event]:
    with session_factory(api.engine)() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def _count(api: Api, model: Any) -> int:
    with session_factory(api.engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_document_is_captured_hashed_recorded_by_the_caller_and_pending_anchoring(
    api_no_chain: Api,
) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    doc = _doc(_event(1, **{"example:note": "x"}), _event(2))
    job = _capture(api, key, doc)
    assert job["running"] is False and job["success"] is True and job["errors"] == []
    assert job["captureErrorBehaviour"] == "rollback"
    stored = _events(api)
    assert len(stored) == 2
    assert {e.recorded_by for e in stored} == {api.principal_id(key)}
    assert all(e.biz_step == "inspecting" and e.event_type == "ObjectEvent" for e in stored)
    # The document's namespaces travel with the event: the stored JSON re-hashes alone.
    import json

    from core.epcis.hashed_event import HashedEvent

    for event in stored:
        assert HashedEvent.of(json.loads(event.event_json)).event_hash == bytes(event.event_hash)
    with session_factory(api.engine)() as session, session.begin():
        claimed = claim_pending_leaves(session, 10)
        own = [leaf for leaf in claimed if leaf.kind < 2]  # beside them, their kind 2 leaves
        assert sorted(leaf.event_id for leaf in own) == [e.id for e in stored]


def test_an_invalid_document_is_refused_whole_naming_event_and_field(api_no_chain: Api) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    bad = _event(2, action="CREATE")
    no_offset = _event(3, eventTime="2026-07-22T06:45:00")
    problem = _capture(api, key, _doc(_event(1), bad, no_offset), 400)
    assert problem["type"] == "epcisException:ValidationException"
    where = {(e["eventIndex"], e["pointer"]) for e in problem["errors"]}
    assert (1, "/action") in where
    assert any(index == 2 for index, _ in where), problem
    assert "event 1, /action" in problem["detail"]
    assert _events(api) == [] and _count(api, CaptureJob) == 0


def test_proceed_stores_the_valid_events_and_reports_the_others(api_no_chain: Api) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    doc = _doc(_event(1), _event(2, action="CREATE"), _event(3))
    job = _capture(api, key, doc, **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert job["success"] is False and job["captureErrorBehaviour"] == "proceed"
    assert [(e["eventIndex"], e["pointer"]) for e in job["errors"]] == [(1, "/action")]
    assert len(_events(api)) == 2
    old = _event(4, eventTime="1969-12-31T23:59:59.000Z", eventTimeZoneOffset="+00:00")
    long_step = _event(5, bizStep="https://ref.gs1.org/cbv/BizStep-" + "s" * 300)
    job = _capture(api, key, _doc(old, long_step), **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert [(e["eventIndex"], e["pointer"]) for e in job["errors"]] == [
        (0, "/eventTime"),
        (1, "/bizStep"),
    ]
    assert len(_events(api)) == 2


def test_a_repeat_is_one_event_and_another_capturer_is_recorded(api_no_chain: Api) -> None:
    api = api_no_chain
    first, second = api.principal("carrier"), api.principal("buyer")
    doc = _doc(_event(1), _event(1))  # a repeat inside a document is no error
    one = _capture(api, first, doc)
    again = _capture(api, first, doc)
    other = _capture(api, second, doc)
    # The other principal's answer is that of a first capture: nothing tells it was stored.
    for job in (one, again, other):
        assert {
            k: v for k, v in job.items() if k not in ("captureID", "createdAt", "finishedAt")
        } == {
            "running": False,
            "success": True,
            "captureErrorBehaviour": "rollback",
            "errors": [],
        }
    (event,) = _events(api)
    assert event.recorded_by == api.principal_id(first)
    with session_factory(api.engine)() as session:
        capturers = list(session.scalars(select(EventCapturer)))
    assert [(c.event_id, c.principal_id) for c in capturers] == [
        (event.id, api.principal_id(second))
    ]
    _capture(api, second, doc)
    assert _count(api, EventCapturer) == 1


def test_an_unknown_shipment_is_404_and_a_shipment_named_elsewhere_422(
    api_no_chain: Api,
) -> None:
    """Shipment events pass the shipment's rules (tests/api/test_epcis_capture_shipments.py);
    here: one naming a shipment that is none of the caller's, or naming it outside
    bizTransactionList."""
    api = api_no_chain
    key = api.principal("carrier")
    unknown = "urn:chaintrace:shipment:0x" + "ab" * 32
    naming = _event(2, bizTransactionList=[{"type": "bol", "bizTransaction": unknown}])
    refused = api.client.post("/epcis/capture", json=_doc(_event(1), naming), headers=auth(key))
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"event 1: no shipment 0x{'ab' * 32} among yours"
    elsewhere = _event(3, **{"example:shipment": unknown})
    refused_doc = _capture(api, key, _doc(elsewhere), 422)
    (problem,) = refused_doc["detail"]
    assert problem["loc"] == ["body", "epcisBody", "eventList", 0, "example:shipment"]
    assert "outside bizTransactionList" in problem["msg"]
    assert _events(api) == []
    job = _capture(api, key, _doc(naming, _event(1)), **{"GS1-Capture-Error-Behaviour": "proceed"})
    assert [(e["eventIndex"], e["pointer"]) for e in job["errors"]] == [
        (0, "/bizTransactionList/0/bizTransaction")
    ]
    assert job["errors"][0]["detail"].startswith("event 0, /bizTransactionList/0/bizTransaction:")
    assert len(_events(api)) == 1


def test_versions_options_and_limits(api_no_chain: Api) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    options = api.client.options("/epcis/capture")
    assert options.status_code == 204
    assert options.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(MAX_BODY_BYTES)
    assert int(options.headers["GS1-EPCIS-Capture-Limit"]) > 0
    assert options.headers["GS1-EPCIS-Version"] == "2.0.0"
    refused = _capture(api, key, _doc(_event(1)), 406, **{"GS1-EPCIS-Version": "1.2"})
    assert "GS1-EPCIS-Version" in refused["title"]
    assert refused["type"] == "epcisException:NotAcceptableException"
    _capture(api, key, _doc(_event(1)), 202, **{"GS1-EPCIS-Version": "2.0.0"})
    assert api.client.post("/epcis/capture", json=_doc(_event(1))).status_code == 401
    limit = int(options.headers["GS1-EPCIS-Capture-Limit"])
    too_many = _capture(api, key, _doc(*[_event(n) for n in range(limit + 1)]), 413)
    assert "GS1-EPCIS-Capture-Limit" in too_many["title"]
    assert too_many["type"] == "epcisException:CaptureLimitExceededException"
    assert len(_events(api)) == 1


def test_jobs_are_the_callers_paginated_and_survive_a_restart(
    api_no_chain: Api, tmp_path: Path
) -> None:
    api = api_no_chain
    key, other = api.principal("carrier"), api.principal("buyer")
    ids = [_capture(api, key, _doc(_event(n)))["captureID"] for n in range(3)]
    page = api.client.get("/epcis/capture?perPage=2", headers=auth(key))
    assert [j["captureID"] for j in ok(page)] == ids[::-1][:2]
    following = page.headers["Link"].split(">")[0].lstrip("<")
    assert [j["captureID"] for j in ok(api.client.get(following, headers=auth(key)))] == ids[:1]
    assert ok(api.client.get("/epcis/capture", headers=auth(other))) == []
    assert api.client.get(f"/epcis/capture/{ids[0]}", headers=auth(other)).status_code == 404
    settings = ApiSettings(
        database_url=str(api.engine.url.render_as_string(hide_password=False)),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=tmp_path / "none.json",
    )
    with TestClient(create_app(settings, engine=api.engine)) as restarted:
        job = ok(restarted.get(f"/epcis/capture/{ids[0]}", headers=auth(key)))
    assert job["captureID"] == ids[0] and job["success"] is True


def test_one_event_is_captured_with_201_and_its_hash_id(api_no_chain: Api) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    event = {"@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"}
    event.update(_event(7))
    answer = api.client.post("/epcis/events", json=event, headers=auth(key))
    assert answer.status_code == 201, answer.text
    (stored,) = _events(api)
    assert unquote(answer.headers["Location"]) == "/epcis/events/" + event_id(
        bytes(stored.event_hash)
    )
    # The Location answers: the query side serves the captured event to its capturer only.
    fetched = api.client.get(answer.headers["Location"], headers=auth(key))
    assert fetched.status_code == 200, fetched.text
    assert json.dumps(fetched.json()).count(event["epcList"][0]) >= 1
    stranger = api.client.get(answer.headers["Location"], headers=auth(api.principal("buyer")))
    assert stranger.status_code == 404
    again = api.client.post("/epcis/events", json=copy.deepcopy(event), headers=auth(key))
    assert again.status_code == 201 and again.headers["Location"] == answer.headers["Location"]
    bad = api.client.post("/epcis/events", json=_event(8, action="CREATE"), headers=auth(key))
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "/action"
    assert len(_events(api)) == 1


def _declared(event: dict[str, Any]) -> dict[str, Any]:
    return {
        **event,
        "errorDeclaration": {
            "declarationTime": "2026-07-23T08:00:00.000Z",
            "reason": "incorrect_data",
        },
    }


def _job_answer(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k not in ("captureID", "createdAt", "finishedAt")}


def _declarations(api: Api) -> list[tuple[bytes, int | None]]:
    return [(bytes(e.event_hash), e.recorded_by) for e in _events(api) if e.kind == 1]


def test_only_a_capturer_corrects_its_event_others_are_answered_as_for_an_unknown_one(
    api_no_chain: Api,
) -> None:
    api = api_no_chain
    owner, stranger, later = (api.principal(role) for role in ("carrier", "buyer", "carrier"))
    _capture(api, owner, _doc(_event(1)))
    (original,) = _events(api)
    # The stranger declares the owner's event erroneous, and an event never captured here.
    theirs = _capture(api, stranger, _doc(_declared(_event(1))))
    unknown = _capture(api, stranger, _doc(_declared(_event(99))))
    assert _job_answer(theirs) == _job_answer(unknown)
    one = {"@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"}
    one.update(_declared(_event(1)))
    single = api.client.post("/epcis/events", json=one, headers=auth(stranger))
    assert single.status_code == 201
    # Only the unknown one is recorded: the owner's event is not declared erroneous.
    assert [r for _, r in _declarations(api)] == [api.principal_id(stranger)]
    assert bytes(original.event_hash) not in {h for h, _ in _declarations(api)}
    # A further capturer of the event (a repeat records it) may correct it, as may its recorder.
    _capture(api, later, _doc(_event(1)))
    _capture(api, later, _doc(_declared(_event(1))))
    declared = {h: r for h, r in _declarations(api)}
    assert declared[bytes(original.event_hash)] == api.principal_id(later)
    _capture(api, owner, _doc(_declared(_event(1))))
    with session_factory(api.engine)() as session:
        (row,) = session.scalars(
            select(Event).where(Event.kind == 1, Event.event_hash == original.event_hash)
        )
        capturers = set(
            session.scalars(
                select(EventCapturer.principal_id).where(EventCapturer.event_id == row.id)
            )
        )
    assert capturers == {api.principal_id(owner)}
    # An event and its declaration in one document, in order: the sender captured both.
    _capture(api, stranger, _doc(_event(5), _declared(_event(5))))
    assert len(_declarations(api)) == 3
