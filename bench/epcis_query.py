"""Benchmark: GET /epcis/events on a store of 1,000,000 events (SQLite and PostgreSQL).

A fresh store gets --events events bulk-inserted straight into its tables (executemany on
SQLite, COPY on PostgreSQL; a leaf per event, pending; their EPCs in the EPC index,
store/epc_index.py, as recording fills it): the five EPCIS event types, 10 CBV
bizSteps, 1-5 SGTINs per event out of --epcs (events / 5, under 20 company prefixes), readPoint and
bizLocation SGLNs, dispositions, event times spread over a year, recorded by 10 principals.
Event hashes are random (the query does not re-hash). The API serves it (uvicorn in its own
process, as bench/capture.py starts it); requests go over HTTP, one at a time, as one of the 10
recorders (it sees its own tenth of the events):
  - match_epc: MATCH_epc=<an EPC of one of the viewer's events>
  - biz_step_day: EQ_bizStep=<step>&GE_eventTime=<day>&LT_eventTime=<day + 1>
and, as baselines in the same run, GET /epcis/eventTypes (authentication and HTTP only) and
GET /epcis/events/{eventID} by its ni:/// hash (a primary-key-like index lookup). Then the same
queries through store/epcis_query.py in this process ("store_level": no HTTP, no answer
document), against find_event by hash.
Each query runs for --seconds or --requests, whichever ends first: p50, p99, and ratios to the
baselines. Target (issue 15): p99 < 50 ms.

    .venv/bin/python bench/epcis_query.py                       # SQLite, 1,000,000 events
    .venv/bin/python bench/epcis_query.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/epcis_query.py --events 2000 --seconds 2
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from anchor import _percentile, fresh_database  # noqa: E402
from capture import Api  # noqa: E402
from sqlalchemy import Engine, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import store  # noqa: E402
from core.epcis.hashing import event_id  # noqa: E402
from store.epc_index import epc_entries  # noqa: E402
from store.epcis_match import EPC_FIELDS, JsonFilters, epcs_of  # noqa: E402
from store.epcis_query import EventQuery, Viewer, find_event, query_events, viewer_of  # noqa: E402
from store.models import Event, Leaf, Principal, Role, event_epcs  # noqa: E402
from store.principals import create_api_key, create_principal  # noqa: E402

RECORDERS = 10
PREFIXES = [f"{4_000_000 + 137 * i:07d}" for i in range(20)]
BIZ_STEPS = [
    "commissioning",
    "packing",
    "shipping",
    "receiving",
    "storing",
    "picking",
    "loading",
    "unloading",
    "inspecting",
    "accepting",
]
DISPOSITIONS = ["in_progress", "in_transit", "active", "sellable_accessible", "container_closed"]
TYPES = [  # (type, weight)
    ("ObjectEvent", 60),
    ("AggregationEvent", 20),
    ("TransactionEvent", 10),
    ("TransformationEvent", 5),
    ("AssociationEvent", 5),
]
START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_MS = 365 * 86_400_000
CHUNK = 20_000  # rows per executemany / COPY round


def epc(n: int) -> str:
    """The n-th SGTIN of the store (prefix, item reference and serial from n)."""
    prefix = PREFIXES[n % len(PREFIXES)]
    item = f"{(n // len(PREFIXES)) % 997:05d}"
    return f"urn:epc:id:sgtin:{prefix}.0{item}.{n}"


def sgln(n: int) -> str:
    """The n-th location (200 of them)."""
    return f"urn:epc:id:sgln:{PREFIXES[n % len(PREFIXES)]}.{n % 200:05d}.0"


def event_body(rng: random.Random, kind: str, time_ms: int, epcs: int) -> dict[str, Any]:
    """One event of type `kind`, in EPCIS 2.0 JSON."""
    at = START + timedelta(milliseconds=time_ms)
    names = [epc(rng.randrange(epcs)) for _ in range(rng.randint(1, 5))]
    body: dict[str, Any] = {
        "type": kind,
        "eventTime": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventTimeZoneOffset": "+00:00",
        "bizStep": rng.choice(BIZ_STEPS),
        "disposition": rng.choice(DISPOSITIONS),
        "readPoint": {"id": sgln(rng.randrange(200))},
        "bizLocation": {"id": sgln(rng.randrange(200))},
    }
    if kind == "ObjectEvent":
        body.update(action=rng.choice(["ADD", "OBSERVE", "OBSERVE", "DELETE"]), epcList=names)
    elif kind == "AggregationEvent":
        body.update(action="ADD", parentID=f"urn:epc:id:sscc:{names[0][17:24]}.{time_ms}")
        body["childEPCs"] = names
    elif kind == "TransactionEvent":
        body.update(action="ADD", epcList=names)
        body["bizTransactionList"] = [
            {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:0614141073467:{time_ms}"}
        ]
    elif kind == "TransformationEvent":
        body.update(inputEPCList=names[:1], outputEPCList=names[1:] or names)
    else:
        body.update(action="ADD", parentID=sgln(rng.randrange(200)), childEPCs=names)
    return body


def rows(count: int, epcs: int, recorders: list[int], seed: int) -> Iterator[list[dict[str, Any]]]:
    """The events in chunks of CHUNK, ids 1..count, with their leaf's salt and hash."""
    rng = random.Random(seed)
    kinds = [k for k, weight in TYPES for _ in range(weight)]
    now = datetime.now(UTC)
    chunk: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        time_ms = rng.randrange(YEAR_MS)
        kind = rng.choice(kinds)
        body = event_body(rng, kind, time_ms, epcs)
        chunk.append(
            {
                "id": n,
                "kind": 0,
                "event_hash": rng.randbytes(32),
                "event_json": json.dumps(body, separators=(",", ":")),
                "event_type": kind,
                "biz_step": body["bizStep"],
                "event_time_ms": int(START.timestamp() * 1000) + time_ms,
                "recorded_by": recorders[n % len(recorders)],
                "shipment_id": None,
                "created_at": now,
                "salt": rng.randbytes(32),
                "leaf_hash": rng.randbytes(32),
            }
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_EVENT_COLUMNS = (
    "id",
    "kind",
    "event_hash",
    "event_json",
    "event_type",
    "biz_step",
    "event_time_ms",
    "recorded_by",
    "shipment_id",
    "created_at",
)


def fill(engine: Engine, count: int, epcs: int, recorders: list[int]) -> float:
    """Bulk-insert `count` events and their own pending leaves (no kind 2 leaves: the query
    reads none); the seconds it took."""
    started = time.monotonic()
    postgresql = engine.dialect.name == "postgresql"
    for chunk in rows(count, epcs, recorders, seed=15):
        # The EPC index, as store.recording fills it (store/epc_index.py).
        index = [
            {"epc": epc, "field": code, "event_id": r["id"]}
            for r in chunk
            for epc, code in sorted(epc_entries(r["event_json"]))
        ]
        if postgresql:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                columns = ", ".join(_EVENT_COLUMNS)
                with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row([row[c] for c in _EVENT_COLUMNS])
                with cursor.copy(
                    "COPY leaves (id, event_id, kind, salt, leaf_hash, created_at) FROM STDIN"
                ) as copy:
                    for row in chunk:
                        copy.write_row(
                            [
                                row["id"],
                                row["id"],
                                row["kind"],
                                row["salt"],
                                row["leaf_hash"],
                                row["created_at"],
                            ]
                        )
                with cursor.copy("COPY event_epcs (epc, field, event_id) FROM STDIN") as copy:
                    for entry in index:
                        copy.write_row([entry["epc"], entry["field"], entry["event_id"]])
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.execute(
                    insert(Event.__table__), [{c: r[c] for c in _EVENT_COLUMNS} for r in chunk]
                )
                conn.execute(
                    insert(Leaf.__table__),
                    [
                        {
                            "id": r["id"],
                            "event_id": r["id"],
                            "kind": r["kind"],
                            "salt": r["salt"],
                            "leaf_hash": r["leaf_hash"],
                            "created_at": r["created_at"],
                        }
                        for r in chunk
                    ],
                )
                conn.execute(insert(event_epcs), index)
    with engine.begin() as conn:
        if postgresql:
            for table in ("events", "leaves"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {count})"
                )
            for table in ("events", "leaves", "event_epcs"):
                conn.exec_driver_sql(f"ANALYZE {table}")
        else:
            conn.exec_driver_sql("ANALYZE")
    return time.monotonic() - started


def seed(url: str) -> tuple[list[int], str]:
    """The recorders' principal ids, and an API key of the first (the viewer)."""
    store.upgrade(url)
    engine = store.make_engine(url)
    try:
        with store.transaction(store.session_factory(engine)) as session:
            ids = [
                create_principal(session, f"recorder {i}", Role.CARRIER).id
                for i in range(RECORDERS)
            ]
            return ids, create_api_key(session, ids[0], "bench")
    finally:
        engine.dispose()


def measure(
    http: Any, name: str, paths: Iterator[str], seconds: float, most: int
) -> dict[str, Any]:
    """GET paths until `seconds` or `most` requests: p50 / p99 (ms), requests, events seen."""
    latencies: list[float] = []
    found = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds and len(latencies) < most:
        path = next(paths)
        sent = time.perf_counter()
        answer = http.get(path)
        latencies.append(time.perf_counter() - sent)
        if answer.status_code != 200:
            raise SystemExit(f"bench: {name}: {path} answered {answer.status_code}: {answer.text}")
        body = answer.json()
        if "epcisBody" in body:
            found += len(body["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
    return {
        "p50_ms": round(1000 * (_percentile(latencies, 0.50) or 0), 2),
        "p99_ms": round(1000 * (_percentile(latencies, 0.99) or 0), 2),
        "requests": len(latencies),
        "events_per_answer": round(found / max(1, len(latencies)), 2),
    }


def store_level(
    url: str, viewer_id: int, seen: list[str], hashes: list[bytes], seconds: float, most: int
) -> dict[str, Any]:
    """The same queries through store/epcis_query.py in this process (no HTTP, no answer
    document): p50 / p99 (ms) of each, in a read transaction as the API's GETs read."""
    engine = store.make_engine(url)
    sessions = store.session_factory(engine)
    rng = random.Random(8)
    start_ms = int(START.timestamp() * 1000)

    def by_id(session: Session, viewer: Viewer) -> int:
        return int(find_event(session, viewer, event_id(rng.choice(hashes))) is not None)

    def match(session: Session, viewer: Viewer) -> int:
        query = EventQuery(json=JsonFilters(match_epc=(rng.choice(seen),)))
        return len(query_events(session, viewer, query, after=None, per_page=30).records)

    def step(session: Session, viewer: Viewer) -> int:
        day = start_ms + rng.randrange(365) * 86_400_000
        query = EventQuery(
            ge_event_time_ms=day,
            lt_event_time_ms=day + 86_400_000,
            json=JsonFilters(biz_steps=(rng.choice(BIZ_STEPS),)),
        )
        return len(query_events(session, viewer, query, after=None, per_page=30).records)

    out: dict[str, Any] = {}
    try:
        for name, call in (("by_event_id", by_id), ("match_epc", match), ("biz_step_day", step)):
            latencies: list[float] = []
            found = 0
            started = time.monotonic()
            while time.monotonic() - started < seconds and len(latencies) < most:
                sent = time.perf_counter()
                with store.read_transaction(sessions) as session:
                    viewer = viewer_of(session, session.get_one(Principal, viewer_id))
                    found += call(session, viewer)
                latencies.append(time.perf_counter() - sent)
            out[name] = {
                "p50_ms": round(1000 * (_percentile(latencies, 0.50) or 0), 2),
                "p99_ms": round(1000 * (_percentile(latencies, 0.99) or 0), 2),
                "requests": len(latencies),
                "events_per_answer": round(found / max(1, len(latencies)), 2),
            }
    finally:
        engine.dispose()
    by_id_p99 = out["by_event_id"]["p99_ms"]
    for name in ("match_epc", "biz_step_day"):
        p99 = out[name]["p99_ms"]
        out[name]["p99_vs_by_event_id"] = round(p99 / by_id_p99, 1) if by_id_p99 else None
        out[name]["p99_under_50ms"] = p99 < 50
    return out


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Fill a fresh store, serve it, and time the queries."""
    import httpx

    url, drop = fresh_database(args.database_url, workdir, "query")
    try:
        recorders, key = seed(url)
        engine = store.make_engine(url)
        try:
            print(f"inserting {args.events} events ...", file=sys.stderr, flush=True)
            fill_s = fill(engine, args.events, args.epcs, recorders)
            with engine.connect() as conn:
                own = conn.execute(
                    select(Event.event_hash, Event.event_json)
                    .where(Event.recorded_by == recorders[0])
                    .limit(5000)
                ).all()
            hashes = [bytes(h) for h, _ in own]
            # EPCs the viewer has seen (in its own events): the ones it would ask about.
            seen = sorted({e for _, body in own for e in epcs_of(json.loads(body), EPC_FIELDS)})
        finally:
            engine.dispose()
        rng = random.Random(7)

        def epc_paths() -> Iterator[str]:
            while True:
                yield f"/epcis/events?MATCH_epc={rng.choice(seen)}"

        def step_paths() -> Iterator[str]:
            while True:
                day = START + timedelta(days=rng.randrange(365))
                end = day + timedelta(days=1)
                yield (
                    f"/epcis/events?EQ_bizStep={rng.choice(BIZ_STEPS)}"
                    f"&GE_eventTime={day.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                    f"&LT_eventTime={end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                )

        def trivial_paths() -> Iterator[str]:
            while True:
                yield "/epcis/eventTypes"

        def by_id_paths() -> Iterator[str]:
            while True:
                digest = rng.choice(hashes)
                yield "/epcis/events/" + quote(event_id(digest), safe="")

        api = Api(url, workdir)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=api.base_url, headers=headers, timeout=600) as http:
                measure(http, "warm-up", trivial_paths(), 2.0, 50)
                results = {
                    name: measure(http, name, paths, args.seconds, args.requests)
                    for name, paths in (
                        ("trivial_event_types", trivial_paths()),
                        ("by_event_id", by_id_paths()),
                        ("match_epc", epc_paths()),
                        ("biz_step_day", step_paths()),
                    )
                }
        finally:
            api.stop()
        in_process = store_level(url, recorders[0], seen, hashes, args.seconds, args.requests)
    finally:
        drop()
    trivial, by_id = results["trivial_event_types"]["p99_ms"], results["by_event_id"]["p99_ms"]
    for name in ("match_epc", "biz_step_day"):
        p99 = results[name]["p99_ms"]
        results[name]["p99_vs_trivial"] = round(p99 / trivial, 1) if trivial else None
        results[name]["p99_vs_by_event_id"] = round(p99 / by_id, 1) if by_id else None
        results[name]["p99_under_50ms"] = p99 < 50
    return {
        **results,
        "store_level": in_process,
        "fill_s": round(fill_s, 1),
        "events": args.events,
        "epcs": args.epcs,
        "viewer_sees": f"1/{RECORDERS} (its own recordings)",
        "database": "sqlite" if args.database_url is None else "postgresql",
        "transport": "HTTP (uvicorn, one request at a time); store_level: store/epcis_query.py"
        " in this process",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--epcs", type=int, default=None, help="distinct EPCs (events / 5)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per query at most")
    parser.add_argument("--requests", type=int, default=500, help="requests per query at most")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: a fresh database there (default SQLite)",
    )
    args = parser.parse_args()
    args.epcs = args.epcs or max(1, args.events // 5)
    if args.events <= 0 or args.epcs <= 0 or args.seconds <= 0 or args.requests <= 0:
        parser.error("--events, --epcs, --seconds and --requests must be positive")
    workdir = Path(tempfile.mkdtemp(prefix="bench-epcis-query-"))
    print(json.dumps(run(args, workdir)))


if __name__ == "__main__":
    main()
