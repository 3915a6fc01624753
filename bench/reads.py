"""Benchmark: a consumer's scan (one event, its leaf and proof) while a writer stores events.

SQLite in WAL mode, as in dev mode. A writer process stores events 200 per transaction
(store.recording.record_events, as the gateway's roll-up does) as fast as it can, and
the anchoring worker's batch writes (store.create_batch) every 1,000 events. Meanwhile the
main process reads random anchored events the way the resolver does: the event, its leaf, its
batch and the proof from the batch's tree. Twice, in the same run and under the same writer:
in an ordinary transaction (BEGIN IMMEDIATE: the write lock, as every read took before), then in
store.read_transaction (BEGIN DEFERRED: a WAL snapshot). Per phase: reads/s, read latency p50 and
p99, and the writer's events/s.

    .venv/bin/python bench/reads.py              # ~1 minute
    .venv/bin/python bench/reads.py --duration 10
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from core.epcis.hashed_event import HashedEvent
from core.merkle import MerkleTree
from store.models import AnchorBatch, Event, Leaf
from store.recording import EventRow, record_events

CHUNK = 200  # events per writer transaction
BATCH = 1_000  # leaves per anchoring batch


def _rows(n: int) -> list[EventRow]:
    return [
        {
            "event": HashedEvent(
                kind=0,
                event_hash=secrets.token_bytes(32),
                event_json='{"type":"ObjectEvent"}',
                event_type="ObjectEvent",
                biz_step="shipping",
                event_time_ms=i,
            ),
            "recorded_by": None,
        }
        for i in range(n)
    ]


def _store_and_batch(sessions: sessionmaker[Session], n: int) -> None:
    """Store `n` events, and batch the pending leaves by BATCH as the anchoring worker does."""
    with store.transaction(sessions) as session:
        record_events(session, _rows(n))
    with store.transaction(sessions) as session:
        while len(pending := store.claim_pending(session, BATCH)) == BATCH:
            tree = MerkleTree.build([leaf.leaf_hash for leaf in pending])
            store.create_batch(session, tree, pending)


def _writer(url: str, stop: Any, counts: Any) -> None:
    engine = store.make_engine(url)
    sessions = store.session_factory(engine)
    while not stop.is_set():
        _store_and_batch(sessions, CHUNK)
        with counts.get_lock():
            counts.value += CHUNK
    engine.dispose()


def _scan(session: Session, leaf_id: int) -> list[str] | None:
    """What the resolver reads for one event: the event, its leaf, batch and proof."""
    leaf, event, batch = session.execute(
        select(Leaf, Event, AnchorBatch)
        .join(Event, Event.id == Leaf.event_id)
        .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
        .where(Leaf.id == leaf_id)
    ).one()
    assert event.event_json
    return store.leaf_proof(leaf, batch)


def _phase(
    sessions: sessionmaker[Session],
    begin: Callable[[sessionmaker[Session]], AbstractContextManager[Session]],
    leaf_ids: list[int],
    seconds: float,
    counts: Any,
) -> dict[str, float]:
    rng = random.Random(7)
    latencies: list[float] = []
    written_before = counts.value
    start = time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        with begin(sessions) as session:
            proof = _scan(session, rng.choice(leaf_ids))
        latencies.append(time.perf_counter() - now)
        assert proof is not None
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "reads_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
        "writer_events_per_s": round((counts.value - written_before) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--events", type=int, default=50_000, help="events stored beforehand")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reads-"))
    url = store.sqlite_url(workdir / "reads.db")
    store.upgrade(url)
    engine = store.make_engine(url)
    sessions = store.session_factory(engine)
    _store_and_batch(sessions, args.events)
    with store.read_transaction(sessions) as session:
        leaf_ids = list(session.scalars(select(Leaf.id).where(Leaf.batch_id.is_not(None))))
    stop = multiprocessing.Event()
    counts = multiprocessing.Value("q", 0)
    writer = multiprocessing.Process(target=_writer, args=(url, stop, counts), daemon=True)
    writer.start()
    try:
        time.sleep(2.0)  # the writer at speed
        immediate = _phase(sessions, store.transaction, leaf_ids, args.duration, counts)
        print("immediate", json.dumps(immediate), flush=True)
        read_only = _phase(sessions, store.read_transaction, leaf_ids, args.duration, counts)
        print("read_only", json.dumps(read_only), flush=True)
    finally:
        stop.set()
        writer.join(60)
        engine.dispose()
    print(
        json.dumps(
            {
                "baseline_immediate": immediate,
                "read_transaction": read_only,
                "p99_ratio": round(immediate["p99_ms"] / read_only["p99_ms"], 1),
                "reads_ratio": round(read_only["reads_per_s"] / immediate["reads_per_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
