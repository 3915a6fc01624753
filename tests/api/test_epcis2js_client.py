"""A real third-party EPCIS 2.0 client, the npm package epcis2.js (tests/api/epcis2js_client.mjs),
captures a document it built through its own capture() against the served API and reads the
capture job as it expects (Location, then GET /capture/{id} until not running); the query side
(GET /epcis/events) then holds each event under the hash epcis2.js computes for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.flows import auth, ok
from tests.api.served_support import Served
from tests.api.served_support import served as served  # the fixture

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("epcis2js_client.mjs")


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "epcis2.js").is_dir():
        reason = "node or node_modules/epcis2.js is missing (make deps installs them)"
        if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def _epcis2js(served: Served, serials: list[int]) -> dict[str, Any]:
    payload = json.dumps(
        {
            "apiUrl": f"{served.url}/epcis",
            "key": served.world.brand_key,
            "serials": serials,
            "eventTime": "2026-07-22T06:45:00.000+02:00",
        }
    )
    done = subprocess.run(
        [_node(), str(SCRIPT), payload], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr[-5_000:]
    return dict(json.loads(done.stdout))


def test_epcis2js_captures_and_reads_its_capture_job(served: Served) -> None:
    serials = [time.time_ns() % 10**9 + n for n in range(3)]
    result = _epcis2js(served, serials)
    assert result["location"].startswith("/epcis/capture/")
    assert result["job"] == {"running": False, "success": True, "errors": []}
    sent = result["sent"]["epcisBody"]["eventList"]
    assert len(sent) == len(serials) == len(result["clientHashes"])
    client = served.world.api.client
    for event, client_hash in zip(sent, result["clientHashes"], strict=True):
        epc = event["epcList"][0]
        found = ok(
            client.get(
                "/epcis/events", params={"MATCH_epc": epc}, headers=auth(served.world.brand_key)
            )
        )
        events = found["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(events) == 1, events
        assert events[0]["eventID"] == client_hash  # the CBV 2.0 hash epcis2.js computes
        assert events[0]["ct:anchoring"]["eventHash"] is not None
        assert {k: events[0][k] for k in event} == event  # the event as epcis2.js sent it
