"""What bench/capture.py and bench/epcis_query.py feed the platform (the benchmarks themselves
run outside `make test`: minutes each): the capture documents pass the capture's own checks
with every event new (else deduplication would leave nothing to measure), and the query
store's events are indexed by the EPCs the queries ask for."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from core.epcis.capture_document import check_document
from store.epc_index import epc_entries
from store.epcis_match import ANY_EPC_FIELDS, epcs_of

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_capture_documents_pass_the_checks_with_every_event_new() -> None:
    capture = _bench("capture")
    if not capture.DOCUMENTS.is_dir():
        pytest.skip(f"{capture.DOCUMENTS} not found")
    docs = dict(capture.load_documents())
    parts, count = capture.template(docs["Combination_of_different_event.json"], 3)
    assert count == 18
    hashes = set()
    for first_ms in (0, count):  # two consecutive POSTs of one client
        checked = check_document(json.loads(capture.fill(parts, first_ms)))
        assert checked.problems == [] and len(checked.events) == count
        hashes |= {e.event_hash for e in checked.events.values()}
    assert len(hashes) == 2 * count


def test_query_store_events_name_the_epcs_the_queries_ask_for() -> None:
    query = _bench("epcis_query")
    chunk = next(query.rows(200, 40, [1, 2], seed=1))
    assert [r["id"] for r in chunk] == list(range(1, 201))
    assert {r["event_type"] for r in chunk} == {name for name, _ in query.TYPES}
    for row in chunk:
        body = json.loads(row["event_json"])
        assert body["bizStep"] == row["biz_step"] in query.BIZ_STEPS
        named = set(epcs_of(body, ANY_EPC_FIELDS))
        assert named and named == {e for e, _ in epc_entries(row["event_json"])}
