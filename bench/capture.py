"""Benchmark: EPCIS documents POSTed over HTTP -> validated, hashed, stored -> anchored to final.

The valid documents of ../shared/openepcis-tests/Capture/Documents (the ones the API captures:
a few are refused by design, see tests/api/test_epcis_capture_corpus.py REFUSED) are POSTed to
POST /epcis/capture of a served API (uvicorn in its own process, `ApiServer`) by --clients
client processes, each as fast as its answers come, for --duration seconds. Every event's
eventTime is rewritten to a time no other event has, so each capture stores new events (the API
deduplicates by hash). --repeat N sends each document's event list N times in one POST (N
distinct events), as a partner's repository pushing a batch would. The anchoring worker (default
policy, a thread of this process, as in bench/anchor.py) anchors them on a private anvil mining
one block per second, final after 2 confirmations.
Baseline, in the same run: bench/anchor.py's direct-store producer (record_events, 1,000 per
transaction, no HTTP, no validation, no hashing) at --baseline-rate under the same worker policy.
Output: events/s from the first event captured to the last final, capture -> final latency (p50,
p99: the leaf's stored time to its batch's final time), the ratio to the baseline, the clients'
request latency, and a per-stage profile of the API process (py-spy samples of the thread holding
the GIL while clients send, summarised as validation, hashing, storage, serialization, auth,
http/framework; SQLite's own work outside the GIL is not in it) plus the worker's CPU (anchoring)
and the API process's CPU seconds per 10,000 events.

    .venv/bin/python bench/capture.py                 # 60 s per phase (~3 minutes)
    .venv/bin/python bench/capture.py --duration 5 --drain 30 --clients 2
    .venv/bin/python bench/capture.py --repeat 100    # ~140 events per POST
    .venv/bin/python bench/capture.py --database-url postgresql://postgres@127.0.0.1:5432/test
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from anchor import (  # noqa: E402  (bench/anchor.py: the baseline and its helpers)
    BLOCK_TIME,
    CONFIRMATIONS,
    _percentile,
    _round,
    fresh_database,
    run_setting,
)
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from web3 import Web3  # noqa: E402

import store  # noqa: E402
from chain.anchoring.worker import AnchorWorker  # noqa: E402
from chain.settings import AnchorSettings  # noqa: E402
from chain.toolchain.anvil import AnvilNode  # noqa: E402
from chain.toolchain.deploy import deploy  # noqa: E402
from store.models import AnchorBatch, BatchStatus, Leaf, Role  # noqa: E402
from store.models.events import MEMBER_KIND  # noqa: E402
from store.principals import create_api_key, create_principal  # noqa: E402

DOCUMENTS = REPO.parent / "shared" / "openepcis-tests" / "Capture" / "Documents"
# Event times handed out: from here, one millisecond apart, a separate range per client.
TIME_BASE = datetime(2015, 1, 1, tzinfo=UTC)
CLIENT_SPAN_MS = 10**10  # ~115 days per client
_PLACEHOLDER = "@@event-time@@"

# Stages of the API process's samples: the first rule a stack matches (frames as py-spy names
# them: "function (path:line)"), in this order; the rest is the HTTP server and framework.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("validation", ("_schema_problems ", "_validator ", "_refuse_rights ")),
    ("hashing", ("_hash_events ",)),
    ("auth", ("get_current_principal ",)),
    ("storage", ("capture_events ", "new_job ", "commit (", "get_session", "sqlalchemy/")),
    (
        "serialization",
        ("json/", "_json (", "json (starlette", "request_body_to_args ", "serialize_response "),
    ),
]


def load_documents() -> list[tuple[str, dict[str, Any]]]:
    """(name, document) of every openepcis valid capture document; exits if they are absent."""
    if not DOCUMENTS.is_dir():
        raise SystemExit(f"bench: {DOCUMENTS} not found (the openepcis test documents)")
    return [(p.name, json.loads(p.read_text())) for p in sorted(DOCUMENTS.glob("*.json"))]


def template(doc: dict[str, Any], repeat: int) -> tuple[list[str], int]:
    """The document as JSON text split at each eventTime (its event list repeated `repeat`
    times), and the number of events."""
    events = doc["epcisBody"]["eventList"]
    out = [{**event, "eventTime": _PLACEHOLDER} for _ in range(repeat) for event in events]
    body = {**doc, "epcisBody": {**doc["epcisBody"], "eventList": out}}
    return json.dumps(body).split(json.dumps(_PLACEHOLDER)), len(out)


def fill(parts: list[str], first_ms: int) -> str:
    """The document with event i's eventTime TIME_BASE + first_ms + i milliseconds."""
    times = []
    for i in range(len(parts) - 1):
        at = TIME_BASE + timedelta(milliseconds=first_ms + i)
        times.append(at.strftime('"%Y-%m-%dT%H:%M:%S.') + f'{at.microsecond // 1000:03d}Z"')
    return "".join(part for pair in zip(parts, [*times, ""], strict=True) for part in pair)


def client(
    index: int,
    base_url: str,
    key: str,
    templates: list[tuple[list[str], int]],
    stop: Any,
    started: Any,
    out: Any,
) -> None:
    """POST the templates round-robin until `stop`; put (events, requests, errors, latencies,
    answers by status or transport error)."""
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    next_ms = index * CLIENT_SPAN_MS
    events = requests = errors = 0
    latencies: list[float] = []
    statuses: collections.Counter[int | str] = collections.Counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        started.wait()
        position = index
        while not stop.is_set():
            parts, count = templates[position % len(templates)]
            position += 1
            body = fill(parts, next_ms)
            next_ms += count
            sent = time.monotonic()
            try:
                answer = http.post("/epcis/capture", content=body)
            except httpx.TransportError as exc:  # counted, and the client goes on
                statuses[type(exc).__name__] += 1
                errors += 1
                continue
            latencies.append(time.monotonic() - sent)
            requests += 1
            statuses[answer.status_code] += 1
            if answer.status_code == 202:
                events += count
            else:
                errors += 1
    out.put((events, requests, errors, latencies, dict(statuses)))


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str, port: int) -> None:
    """The API process: ApiServer on `port` (no chain: capture needs none), until SIGTERM."""
    from api.server import ApiServer
    from api.settings import ApiSettings

    settings = ApiSettings(
        chaintrace_dev=True,
        database_url=url,
        public_base_url="http://127.0.0.1",
        api_port=port,
        rate_limit_enabled=False,  # a benchmark of throughput, not of the limits
    )
    ApiServer(settings).run()  # uvicorn exits on SIGTERM


class Api:
    """The served API in its own process; profile() attaches py-spy to it for a while."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.port = free_port()
        command = [sys.executable, __file__, "--serve", url, str(self.port)]
        self.log = (workdir / "api.log").open("wb")
        self.proc = subprocess.Popen(command, cwd=REPO, stdout=self.log, stderr=self.log)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.spy: subprocess.Popen[bytes] | None = None
        deadline = time.monotonic() + 120
        while not self._up():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: the API did not start: {workdir / 'api.log'}")
            time.sleep(0.2)

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def profile(self, out: Path, seconds: float) -> None:
        """Sample the API process with py-spy (raw stacks to `out`) for `seconds`, from now."""
        spy = str(Path(sys.executable).with_name("py-spy"))
        # --gil: only the thread holding the GIL, i.e. what keeps this one-process API busy
        # (threads waiting for SQLite's write lock or a socket are left out).
        command = [spy, "record", "--nonblocking", "--gil", "-f", "raw", "-r", "100"]
        command += ["-o", str(out)]
        command += ["-d", str(max(1, int(seconds))), "-p", str(self.proc.pid)]
        self.spy = subprocess.Popen(command, stdout=self.log, stderr=self.log)

    def cpu_s(self) -> float:
        """CPU seconds the API process used so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Wait for py-spy's samples, then SIGTERM the server and wait."""
        if self.spy is not None:
            try:
                self.spy.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.spy.kill()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# Where a thread waits (py-spy's idle detection misses them in containers): not CPU.
_IDLE = ("wait (threading.py", "select (selectors.py", "get (queue.py", "sleep (")


def stages(profile: Path) -> dict[str, Any]:
    """py-spy raw samples -> share of the API process's CPU samples per stage (STAGES)."""
    counts: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    for line in profile.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or any(mark in stack.rsplit(";", 1)[-1] for mark in _IDLE):
            continue
        n = int(number)
        frames = stack.split(";")
        stage = next(
            (name for name, marks in STAGES if any(m in f for f in frames for m in marks)),
            "http_framework",
        )
        counts[stage] += n
        leaf = re.sub(r" \(.*?([^/]+):\d+\)$", r" (\1)", frames[-1])
        functions[leaf] += n
    total = sum(counts.values()) or 1
    return {
        "samples": total,
        "share": {name: round(c / total, 3) for name, c in counts.most_common()},
        "top_functions": {f: round(c / total, 3) for f, c in functions.most_common(12)},
    }


def seed(url: str, clients: int) -> list[str]:
    """One capturing principal (carrier) and its API key per client."""
    store.upgrade(url)
    engine = store.make_engine(url)
    try:
        with store.transaction(store.session_factory(engine)) as session:
            return [
                create_api_key(session, create_principal(session, f"capturer {i}", Role.CARRIER).id)
                for i in range(clients)
            ]
    finally:
        engine.dispose()


def usable(base_url: str, key: str, docs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The documents the API captures (202); the others are named on stderr and left out."""
    import httpx

    kept = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as http:
        for i, (name, doc) in enumerate(docs):
            parts, _count = template(doc, 1)
            answer = http.post(
                "/epcis/capture",
                content=fill(parts, CLIENT_SPAN_MS * 1000 + i * 100),
                headers={"Content-Type": "application/json"},
            )
            if answer.status_code == 202:
                kept.append(name)
            else:
                print(f"left out {name}: {answer.status_code}", file=sys.stderr, flush=True)
    return kept


def final_count(sessions: Any) -> int:
    """Events in final batches (their own leaves: kind 2 leaves are not events)."""
    try:
        with sessions() as session:
            return int(
                session.scalar(
                    select(func.count(Leaf.id))
                    .join(AnchorBatch, Leaf.batch_id == AnchorBatch.id)
                    .where(AnchorBatch.status == BatchStatus.FINAL, Leaf.kind < MEMBER_KIND)
                )
                or 0
            )
    except OperationalError:  # busy: ask again
        return 0


def run_capture(
    node: AnvilNode,
    w3: Web3,
    deployment: Any,
    account: Any,
    workdir: Path,
    args: argparse.Namespace,
    docs: list[tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    """The capture phase on a fresh database."""
    url, drop = fresh_database(args.database_url, workdir, "capture")
    try:
        keys = seed(url, args.clients)
        api = Api(url, workdir)
        try:
            return _run_capture(node, w3, deployment, account, url, api, keys, args, docs)
        finally:
            api.stop()
    finally:
        drop()


def _run_capture(
    node: AnvilNode,
    w3: Web3,
    deployment: Any,
    account: Any,
    url: str,
    api: Api,
    keys: list[str],
    args: argparse.Namespace,
    docs: list[tuple[str, dict[str, Any]]],
) -> dict[str, Any]:
    kept = set(usable(api.base_url, keys[0], docs))
    templates = [template(doc, args.repeat) for name, doc in docs if name in kept]
    engine = store.make_engine(url)
    sessions = store.session_factory(engine)
    with sessions() as session:
        preflight = int(session.scalar(select(func.count()).select_from(Leaf)) or 0)
    defaults = AnchorSettings(chaintrace_dev=True)
    settings = AnchorSettings(
        chaintrace_dev=True,
        database_url=url,
        chain_rpc_url=node.rpc_url,
        finality="confirmations",
        confirmations=CONFIRMATIONS,
        max_batch_size=defaults.max_batch_size,
        max_batch_delay=defaults.max_batch_delay,
        poll_interval=0.05,
        follow_chain=False,
    )
    worker = AnchorWorker(settings, engine, w3, account, deployment, lease_holder="capture")
    context = multiprocessing.get_context("spawn")
    stop, go, results = context.Event(), context.Event(), context.Queue()
    procs = [
        context.Process(
            target=client,
            args=(i, api.base_url, keys[i], templates, stop, go, results),
            daemon=True,
        )
        for i in range(args.clients)
    ]
    for proc in procs:
        proc.start()
    thread = threading.Thread(target=worker.run, daemon=True)
    time.sleep(2.0)  # the clients imported httpx and connected
    api_cpu_before = api.cpu_s()
    cpu_before = time.process_time()  # this process: the worker thread plus idle polling
    thread.start()
    started = time.monotonic()
    go.set()
    if args.profile:
        api.profile(args.workdir / "api.pyspy", args.duration)
    time.sleep(args.duration)
    stop.set()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    produced_s = time.monotonic() - started
    api_cpu = api.cpu_s() - api_cpu_before
    captured = sum(o[0] for o in outcomes)
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline and final_count(sessions) < captured + preflight:
        time.sleep(0.5)
    worker.stop()
    thread.join(timeout=30)
    worker_cpu = time.process_time() - cpu_before
    elapsed = time.monotonic() - started
    with sessions() as session:
        final = final_count(sessions)
        latencies = [
            (final_at - created).total_seconds()
            for created, final_at in session.execute(
                select(Leaf.created_at, AnchorBatch.final_at)
                .join(AnchorBatch, Leaf.batch_id == AnchorBatch.id)
                .where(AnchorBatch.status == BatchStatus.FINAL, Leaf.kind < MEMBER_KIND)
            )
        ]
        stored = int(session.scalar(select(func.count()).where(Leaf.kind < MEMBER_KIND)) or 0)
        members = int(session.scalar(select(func.count()).where(Leaf.kind == MEMBER_KIND)) or 0)
    engine.dispose()
    requests = sum(o[1] for o in outcomes)
    request_latencies = [x for o in outcomes for x in o[3]]
    statuses: collections.Counter[str] = collections.Counter()
    for o in outcomes:
        statuses.update({str(k): v for k, v in o[4].items()})
    events_final = final - preflight
    return {
        "events_per_s": round(events_final / elapsed, 1),
        "p50_final_s": _round(_percentile(latencies, 0.50)),
        "p99_final_s": _round(_percentile(latencies, 0.99)),
        "captured_per_s": round(captured / produced_s, 1),
        "requests_per_s": round(requests / produced_s, 1),
        "request_p50_ms": _round(1000 * (_percentile(request_latencies, 0.50) or 0)),
        "request_p99_ms": _round(1000 * (_percentile(request_latencies, 0.99) or 0)),
        "events_per_request": round(captured / max(requests, 1), 1),
        "statuses": dict(statuses),
        "events_captured": captured,
        "events_stored": stored - preflight,
        "kind2_leaves_stored": members,
        "events_final": events_final,
        "api_cpu_s_per_10k": round(api_cpu / max(captured, 1) * 1e4, 2),
        "worker_cpu_s_per_10k": round(worker_cpu / max(events_final, 1) * 1e4, 2),
        "documents": len(templates),
        "elapsed_s": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of capture")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--repeat", type=int, default=1, help="event lists per POST")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to finish after")
    parser.add_argument(
        "--baseline-rate",
        type=int,
        default=5_000,
        help="events/s offered by bench/anchor.py's producer (its default-policy rate)",
    )
    parser.add_argument("--producers", type=int, default=2, help="baseline producer processes")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: each phase gets a fresh database there (default SQLite)",
    )
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    if args.duration <= 0 or args.clients <= 0 or args.repeat <= 0:
        parser.error("--duration, --clients and --repeat must be positive")
    docs = load_documents()
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    node = AnvilNode.start(block_time=BLOCK_TIME, log_path=workdir / "anvil.log")
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        accts = node.accounts(4)
        deployment = deploy(w3, accts[0], accts[1].address, accts[2].address, accts[3].address)
        args.workdir = workdir
        capture = run_capture(node, w3, deployment, accts[2], workdir, args, docs)
        print(json.dumps(capture), flush=True)
        profile = workdir / "api.pyspy"
        profiled = stages(profile) if args.profile and profile.exists() else None
        baseline: dict[str, Any] | None = None
        if args.baseline:
            defaults = AnchorSettings(chaintrace_dev=True)
            baseline = run_setting(
                node,
                w3,
                deployment,
                accts[2],
                workdir,
                "baseline",
                defaults.max_batch_size,
                defaults.max_batch_delay,
                args.baseline_rate,
                args.duration,
                args.drain,
                args.producers,
                args.database_url,
            )
            print(json.dumps(baseline), flush=True)
    finally:
        node.stop()
    ratio = (
        round(capture["events_per_s"] / baseline["events_per_s"], 3)
        if baseline and baseline["events_per_s"]
        else None
    )
    p50 = capture["p50_final_s"]
    print(
        json.dumps(
            {
                "capture": capture,
                "baseline_direct_store": baseline
                and {
                    k: baseline[k]
                    for k in (
                        "events_per_s",
                        "p50_final_s",
                        "p99_final_s",
                        "stored_per_s",
                        "producer_cpu_s_per_10k",
                        "worker_cpu_s_per_10k",
                    )
                },
                "ratio_events_per_s": ratio,
                "targets": {
                    "events_per_s_1500": capture["events_per_s"] >= 1500,
                    "p50_final_under_5s": p50 is not None and p50 < 5,
                },
                "api_profile": profiled,
                "settings": {
                    "duration_s": args.duration,
                    "clients": args.clients,
                    "repeat": args.repeat,
                    "baseline_rate_events_per_s": args.baseline_rate,
                    "block_time_s": BLOCK_TIME,
                    "confirmations": CONFIRMATIONS,
                    "database": "sqlite" if args.database_url is None else "postgresql",
                    "cpus": os.cpu_count(),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
