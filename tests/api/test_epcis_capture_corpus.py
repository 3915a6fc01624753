"""Third-party EPCIS 2.0 documents through POST /epcis/capture (SQLite and PostgreSQL).

Every valid document of ../shared/openepcis-tests/Capture (Documents/ through /epcis/capture,
Events/ through /epcis/events) and every GS1 example of ../shared/epcis-examples is captured, its
events stored with the canonical hash of the reference package epcis-event-hash-generator 1.9.3,
or is listed in REFUSED with the reason. Every document of Capture/Invalid is refused with its
reason named and nothing stored.

Reference runs: the openepcis documents name the unversioned context URL
(https://ref.gs1.org/standards/epcis/epcis-context.jsonld, the same EPCIS 2.0 context); the
reference bundles only the 2.0.0 URL and cannot fetch offline, so its copy names that one. Where
the reference crashes (a bizTransaction without type, a query document, a term object in
@context) it runs with tests/core/epcis/reference_oracle.py's workaround. Divergences: none.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from store.db import session_factory
from store.models import CaptureJob, Event
from tests.api.flows import Api, auth
from tests.core.epcis.reference_oracle import EXAMPLES, example_files, reference_prehashes

SHARED = EXAMPLES.parent
OPENEPCIS = SHARED / "openepcis-tests" / "Capture"
_UNVERSIONED = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
_VERSIONED = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

# Valid by their source, refused here: (status, what the answer names).
REFUSED = {
    # GS1's schema allows persistentDisposition only on ObjectEvent and the sensorReport types
    # of its list (or a URI): openepcis is laxer than the schema on both.
    "openepcis-tests/Capture/Documents/AggregationEvent_with_persistentDisposition.json": (
        400,
        'event 1, /: "persistentDisposition"',
    ),
    "openepcis-tests/Capture/Documents/TransactionEvent_with_userExtensions.json": (
        400,
        "event 0, /sensorElementList/0/sensorReport/0/type",
    ),
    # An ADD commissioning captured by a carrier: only the brand holding the prefix commissions.
    "openepcis-tests/Capture/Documents/ObjectEvent_with_userExtensions.json": (
        422,
        "POST /products/{gtin}/items",
    ),
}
# Each invalid document and the event / field its refusal names.
INVALID = {
    "Combination_of_events_with_missing_mandatory_fields.json": (
        'event 0, /: "action" is a required'
    ),
    "Combination_of_non_standard_bizStep_and_disposition.json": "event 0, /bizStep",
    "EPCISDocument_without_context.json": 'document, /: "@context" is a required',
    "ObjectEvent_with_ilmd_field_without_namespace.json": "event 0, /ilmd",
    "ObjectEvent_with_invalid_action.json": "event 0, /action",
    "ObjectEvent_with_invalid_certificationInfo.json": "event 0, /certificationInfo",
    "ObjectEvent_with_invalid_eventTime_format.json": "event 0, /eventTime",
    "ObjectEvent_with_non_standard_bizStep.json": "event 0, /bizStep",
    "ObjectEvent_with_non_standard_disposition.json": "event 0, /disposition",
    "ObjectEvent_with_quantity_as_text.json": "event 0, /quantityList/0/quantity",
    "ObjectEvent_without_action_and_eventTime.json": 'event 0, /: "eventTime" is a required',
    "ObjectEvent_without_identifier_list.json": "event 0, /",
}


def _valid_files() -> list[Path]:
    if not OPENEPCIS.is_dir():
        return []
    return [
        *sorted((OPENEPCIS / "Documents").glob("*.json")),
        *sorted((OPENEPCIS / "Events").glob("*.json")),
        *example_files(),
    ]


_MISSING = pytest.mark.skipif(
    not OPENEPCIS.is_dir() or not EXAMPLES.is_dir(),
    reason=f"EPCIS test documents not found under {SHARED} (a clone without ../shared)",
)


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], list[str]]]:
    """The reference's SHA-256 (hex) of each event of a document, offline."""
    from pyld import jsonld

    def offline(*_args: Any, **_kwargs: Any) -> Callable[..., Any]:
        def refuse(url: str, options: Any = None) -> Any:
            raise jsonld.JsonLdError(f"offline test: no fetch of {url}", "loading document failed")

        return refuse

    monkeypatch.setattr(jsonld, "requests_document_loader", offline)

    def hashes(doc: dict[str, Any]) -> list[str]:
        doc = json.loads(json.dumps(doc).replace(_UNVERSIONED, _VERSIONED))
        try:
            prehashes = reference_prehashes(doc)
        except Exception:
            prehashes = [None]
        if any(p is None for p in prehashes):
            prehashes = reference_prehashes(doc, True)
        assert all(p is not None for p in prehashes)
        return [hashlib.sha256(str(p).encode()).hexdigest() for p in prehashes]

    logging.disable(logging.CRITICAL)
    try:
        yield hashes
    finally:
        logging.disable(logging.NOTSET)


def _stored_hashes(api: Api) -> set[str]:
    with session_factory(api.engine)() as session:
        return {bytes(h).hex() for h in session.scalars(select(Event.event_hash))}


@_MISSING
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_valid_document_is_captured_with_the_reference_hashes(
    api_no_chain: Api, reference: Callable[[dict[str, Any]], list[str]]
) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    failures: list[str] = []
    refused_seen = set()
    for path in _valid_files():
        name = path.relative_to(SHARED).as_posix()
        doc = json.loads(path.read_text(encoding="utf-8"))
        single = path.parent.name == "Events"
        before = _stored_hashes(api)
        answer = api.client.post(
            "/epcis/events" if single else "/epcis/capture", json=doc, headers=auth(key)
        )
        if name in REFUSED:
            refused_seen.add(name)
            status, reason = REFUSED[name]
            detail = answer.json()["detail"]
            said = detail if isinstance(detail, str) else " ".join(d["msg"] for d in detail)
            if answer.status_code != status or reason not in said:
                failures.append(f"{name}: {answer.status_code} {answer.text[:300]}")
            if _stored_hashes(api) != before:
                failures.append(f"{name}: refused, but events were stored")
            continue
        if answer.status_code != (201 if single else 202):
            failures.append(f"{name}: {answer.status_code} {answer.text[:300]}")
            continue
        if not single:
            job = api.client.get(answer.headers["Location"], headers=auth(key)).json()
            if not job["success"]:
                failures.append(f"{name}: job {job}")
        wrapped = (
            doc
            if not single
            else {
                "@context": doc.get("@context"),
                "epcisBody": {"eventList": [{k: v for k, v in doc.items() if k != "@context"}]},
            }
        )
        missing = set(reference(wrapped)) - _stored_hashes(api)
        if missing:
            failures.append(f"{name}: hashes differ from the reference's: {sorted(missing)}")
    assert refused_seen == set(REFUSED)
    assert not failures, "\n".join(failures)


@_MISSING
def test_every_invalid_document_is_refused_with_its_reason_and_nothing_stored(
    api_no_chain: Api,
) -> None:
    api = api_no_chain
    key = api.principal("carrier")
    files = sorted((OPENEPCIS / "Invalid").glob("*.json"))
    assert {p.name for p in files} == set(INVALID)
    failures = []
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for behaviour in ("rollback", "proceed"):
            headers = {**auth(key), "GS1-Capture-Error-Behaviour": behaviour}
            answer = api.client.post("/epcis/capture", json=doc, headers=headers)
            if behaviour == "proceed" and answer.status_code == 202:
                job = api.client.get(answer.headers["Location"], headers=auth(key)).json()
                named = " ".join(e["detail"] for e in job["errors"])
                if job["success"] or INVALID[path.name] not in named:
                    failures.append(f"{path.name} (proceed): {job}")
                continue
            if answer.status_code != 400 or INVALID[path.name] not in answer.json()["detail"]:
                failures.append(f"{path.name} ({behaviour}): {answer.status_code} {answer.text}")
    with session_factory(api.engine)() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        jobs = session.scalar(select(func.count()).select_from(CaptureJob))
    # Only a proceed job records anything: its errors, no event (every event here is invalid).
    assert jobs is not None and jobs <= len(files)
    assert not failures, "\n".join(failures)
