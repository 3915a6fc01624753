"""bench/lookup.py in its tiny mode (no chain, 200 items, half-second turns): the whole run works
end to end so the benchmark cannot rot. Its numbers are not checked (no timed asserts); what the
run must get right is: every answer a 200 (the load generator exempt from the rate limits) and
every one of them counted as a scan by the API, flushed at its shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "lookup.py"


def test_lookup_bench_runs_in_its_tiny_mode(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-5_000:] + done.stderr[-5_000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["items"] == 200 and report["final_item"] is False
    for name in ("hello", "json", "page"):
        assert set(report[name]) == {"concurrency", "rps", "p50_ms", "p99_ms", "cpu_ms_per_answer"}
        assert report[name]["rps"] > 0
        assert report["levels"][name]
    assert set(report["targets"]) == {
        "json_p99_under_25ms",
        "json_rps_at_least_half_hello",
        "page_p99_within_2x_json",
    }
    assert report["json_rps/hello_rps"] > 0 and report["page_p99/json_p99"] > 0
    scans = report["scans"]
    assert scans["rate_limited_429"] == 0
    assert scans["answered_200"] > 0 and scans["counted"] == scans["answered_200"]
