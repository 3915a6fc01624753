"""Benchmark: stored event -> final proof through the anchoring worker, against one tx per event.

Producer processes store events (event row + pending leaf, store.recording.record_events, 1,000
per transaction, as a gateway's batched writer does) at a fixed rate for --duration seconds per
setting (12,000/s offered to the batch sizes; 5,000/s, below its capacity, to the default
policy); the AnchorWorker anchors them on a private anvil mining one block per second, final
after 2 confirmations. Per setting: gas per event, events final per second from the first
event stored to the last one final (production plus the drain after it), and stored -> final
latency (p50, p99).
The baseline sends one TraceAnchor.anchor(leaf, 1) transaction per event (a stand-in for the
usual "store each event on chain" DApp), from one key with local nonces, as fast as it can.

    .venv/bin/python bench/anchor.py            # full run (~12 minutes)
    .venv/bin/python bench/anchor.py --duration 10 --sizes 100,1000
    .venv/bin/python bench/anchor.py --database-url postgresql://postgres@127.0.0.1:5432/test
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from web3 import Web3

import store
from chain.anchoring.worker import AnchorWorker
from chain.clients import TraceAnchorClient
from chain.settings import AnchorSettings
from chain.toolchain.anvil import AnvilNode
from chain.toolchain.deploy import Deployment, deploy
from chain.transactions import fee_fields
from core.epcis.hashed_event import HashedEvent
from store.models import AnchorBatch, BatchStatus, Leaf
from store.recording import EventRow, record_events

CONFIRMATIONS = 2
CHUNK = 1_000  # events per producer transaction
BLOCK_TIME = 1.0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def produce(url: str, rate: float, stop: Any, stored: Any, cpu: Any) -> None:
    """Store `rate` events per second until `stop` is set (runs in its own process).

    Events go in through store.recording.record_events, up to CHUNK per transaction, as a
    gateway's batched writer stores them.
    """
    engine = store.make_engine(url)
    sessions = store.session_factory(engine)
    ids = itertools.count(1)
    tag = secrets.token_hex(4)
    start = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate) - stored.value
        if due <= 0:
            time.sleep(0.005)
            continue
        rows: list[EventRow] = [
            {
                "event": HashedEvent(
                    kind=0,
                    event_hash=secrets.token_bytes(32),
                    event_json=f'{{"type":"ObjectEvent","bench":"{tag}-{next(ids)}"}}',
                    event_type="ObjectEvent",
                    biz_step="shipping",
                    event_time_ms=1_700_000_000_000,
                ),
                "recorded_by": None,
            }
            for _ in range(min(due, CHUNK))
        ]
        for _attempt in range(100):
            try:
                with store.transaction(sessions) as session:
                    record_events(session, rows)
                break
            except OperationalError:  # SQLite busy past its timeout: the writer waits its turn
                time.sleep(0.05)
        else:
            raise RuntimeError("the database stayed locked")
        stored.value += len(rows)
        cpu.value = time.process_time()
    engine.dispose()


def fresh_database(database_url: str | None, workdir: Path, label: str) -> tuple[str, Any]:
    """(url, drop): a new SQLite file, or a new database on the given PostgreSQL server."""
    if database_url is None:
        return store.sqlite_url(workdir / f"{label}.db"), lambda: None
    server = make_url(str(store.normalize_url(database_url)))
    name = f"bench_anchor_{label}_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def run_setting(
    node: AnvilNode,
    w3: Web3,
    deployment: Deployment,
    account: Any,
    workdir: Path,
    label: str,
    max_batch_size: int,
    max_batch_delay: float,
    rate: int,
    duration: float,
    drain: float,
    producers: int,
    database_url: str | None,
) -> dict[str, Any]:
    """One setting on a fresh database: produce for `duration`, then drain up to `drain` s."""
    url, drop = fresh_database(database_url, workdir, label)
    try:
        return _run_setting(
            node,
            w3,
            deployment,
            account,
            label,
            url,
            max_batch_size,
            max_batch_delay,
            rate,
            duration,
            drain,
            producers,
        )
    finally:
        drop()


def _run_setting(
    node: AnvilNode,
    w3: Web3,
    deployment: Deployment,
    account: Any,
    label: str,
    url: str,
    max_batch_size: int,
    max_batch_delay: float,
    rate: int,
    duration: float,
    drain: float,
    producers: int,
) -> dict[str, Any]:
    store.upgrade(url)
    engine = store.make_engine(url)
    settings = AnchorSettings(
        chaintrace_dev=True,
        database_url=url,
        chain_rpc_url=node.rpc_url,
        finality="confirmations",
        confirmations=CONFIRMATIONS,
        max_batch_size=max_batch_size,
        max_batch_delay=max_batch_delay,
        poll_interval=0.05,
        follow_chain=False,
    )
    worker = AnchorWorker(settings, engine, w3, account, deployment, lease_holder=label)
    # Producers are their own processes, as gateways and the API are: no GIL shared with the
    # worker; more than one because hashing leaves (keccak) costs ~65 us an event in Python.
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    counters = [context.Value("q", 0) for _ in range(producers)]
    cpus = [context.Value("d", 0.0) for _ in range(producers)]
    procs = [
        context.Process(target=produce, args=(url, rate / producers, stop, c, u), daemon=True)
        for c, u in zip(counters, cpus, strict=True)
    ]
    thread = threading.Thread(target=worker.run, daemon=True)
    for proc in procs:
        proc.start()
    while any(c.value == 0 for c in counters) and all(p.is_alive() for p in procs):
        time.sleep(0.01)  # the clock starts with the first stored events, not process start-up
    started = time.monotonic()
    cpu_before = time.process_time()  # this process is the worker thread plus idle polling
    thread.start()
    time.sleep(duration)
    stop.set()
    for proc in procs:
        proc.join()
    stored = sum(int(c.value) for c in counters)
    produced_s = time.monotonic() - started
    deadline = time.monotonic() + drain
    sessions = store.session_factory(engine)
    while time.monotonic() < deadline:
        try:
            with sessions() as session:
                final = session.scalar(
                    select(store_sum_final()).where(AnchorBatch.status == BatchStatus.FINAL)
                )
        except OperationalError:  # busy: ask again
            final = 0
        if int(final or 0) >= stored:
            break
        time.sleep(0.5)
    worker.stop()
    thread.join(timeout=30)
    worker_cpu = time.process_time() - cpu_before
    elapsed = time.monotonic() - started
    with sessions() as session:
        rows = session.execute(
            select(AnchorBatch.leaf_count, AnchorBatch.gas_used, AnchorBatch.final_at).where(
                AnchorBatch.status == BatchStatus.FINAL
            )
        ).all()
        latencies = [
            (final_at - created).total_seconds()
            for created, final_at in session.execute(
                select(Leaf.created_at, AnchorBatch.final_at)
                .join(AnchorBatch, Leaf.batch_id == AnchorBatch.id)
                .where(AnchorBatch.status == BatchStatus.FINAL)
            )
        ]
    engine.dispose()
    events_final = sum(int(r.leaf_count) for r in rows)
    gas = sum(int(r.gas_used or 0) for r in rows)
    return {
        "batch_size": max_batch_size,
        "max_batch_delay_s": max_batch_delay,
        "gas_per_event": round(gas / events_final, 1) if events_final else None,
        "events_per_s": round(events_final / elapsed, 1),
        "p50_final_s": _round(_percentile(latencies, 0.50)),
        "p99_final_s": _round(_percentile(latencies, 0.99)),
        "events_stored": stored,
        "stored_per_s": round(stored / produced_s, 1),
        # CPU seconds per 10,000 events: producers (start-up included) and the worker, so a
        # machine's capacity is cores / (both): a 2-core machine shared with others caps it.
        "producer_cpu_s_per_10k": round(sum(u.value for u in cpus) / stored * 1e4, 2),
        "worker_cpu_s_per_10k": round(worker_cpu / max(events_final, 1) * 1e4, 2),
        "events_final": events_final,
        "batches": len(rows),
        "elapsed_s": round(elapsed, 1),
    }


def store_sum_final() -> Any:
    """SUM(leaf_count) of final batches."""
    from sqlalchemy import func

    return func.coalesce(func.sum(AnchorBatch.leaf_count), 0)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_baseline(
    w3: Web3, deployment: Deployment, account: Any, rate: int, duration: float
) -> dict[str, Any]:
    """One TraceAnchor.anchor(leaf, 1) tx per event, signed locally, sent as fast as possible."""
    anchor = TraceAnchorClient(w3, deployment.trace_anchor)
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    chain_id = w3.eth.chain_id
    fees = fee_fields(w3)
    gas = int(w3.eth.estimate_gas(anchor.build_anchor(account.address, os.urandom(32), 1)) * 1.25)
    hashes: list[bytes] = []
    sent_at: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < duration:
        due = int((time.monotonic() - started) * rate) - len(hashes)
        if due <= 0:
            time.sleep(0.002)
            continue
        data = anchor.contract.encode_abi("anchor", [os.urandom(32), 1])
        tx = {
            "chainId": chain_id,
            "to": anchor.address,
            "value": 0,
            "gas": gas,
            "nonce": nonce,
            "data": data,
            **fees,
        }
        hashes.append(
            bytes(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
        )
        sent_at.append(time.monotonic())
        nonce += 1
    last = w3.eth.wait_for_transaction_receipt(hashes[-1], timeout=600, poll_latency=0.1)
    target = int(last["blockNumber"]) + CONFIRMATIONS
    while w3.eth.block_number < target:
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    sample = hashes[:: max(1, len(hashes) // 200)]
    gas_used = [int(w3.eth.get_transaction_receipt(h)["gasUsed"]) for h in sample]
    return {
        "gas_per_event": round(statistics.mean(gas_used), 1),
        "events_per_s": round(len(hashes) / elapsed, 1),
        "events": len(hashes),
        "contract_call": "TraceAnchor.anchor(bytes32 leaf, uint32 1), one tx per event",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of production")
    parser.add_argument("--rate", type=int, default=12_000, help="events stored per second")
    parser.add_argument("--sizes", default="1,10,100,1000,10000", help="batch sizes")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to finish after")
    parser.add_argument("--baseline-rate", type=int, default=2_000, help="baseline tx/s cap")
    parser.add_argument("--producers", type=int, default=2, help="producer processes")
    parser.add_argument(
        "--default-rate",
        type=int,
        default=5_000,
        help="events stored per second in the default-policy setting (below its capacity)",
    )
    parser.add_argument(
        "--size-delay",
        type=float,
        default=1.0,
        help="max batch delay (s) in the batch-size settings: closes the last partial batch",
    )
    parser.add_argument("--default-policy", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: each setting gets a fresh database there (default SQLite)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="bench-anchor-"))
    node = AnvilNode.start(block_time=BLOCK_TIME, log_path=workdir / "anvil.log")
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        accts = node.accounts(4)
        deployment = deploy(w3, accts[0], accts[1].address, accts[2].address, accts[3].address)
        batches = []
        common = (args.rate, args.duration, args.drain, args.producers, args.database_url)
        for size in [int(s) for s in args.sizes.split(",") if s]:
            # Batches close at size while production runs (size fills in under the delay at
            # the rate asked); the delay closes the leftovers after production ends.
            result = run_setting(
                node,
                w3,
                deployment,
                accts[2],
                workdir,
                f"size{size}",
                size,
                args.size_delay,
                *common,
            )
            print(json.dumps(result), flush=True)
            batches.append(
                {
                    k: result[k]
                    for k in (
                        "batch_size",
                        "gas_per_event",
                        "events_per_s",
                        "p50_final_s",
                        "p99_final_s",
                    )
                }
            )
        default: dict[str, Any] | None = None
        if args.default_policy:
            defaults = AnchorSettings(chaintrace_dev=True)
            # Latency means something below capacity only (above it the queue grows without
            # bound): the default policy gets its own offered rate.
            default = run_setting(
                node,
                w3,
                deployment,
                accts[2],
                workdir,
                "default",
                defaults.max_batch_size,
                defaults.max_batch_delay,
                args.default_rate,
                *common[1:],
            )
            print(json.dumps(default), flush=True)
        baseline: dict[str, Any] | None = None
        if args.baseline:
            baseline = run_baseline(w3, deployment, accts[2], args.baseline_rate, args.duration)
            print(json.dumps(baseline), flush=True)
    finally:
        node.stop()
    database = "sqlite" if args.database_url is None else "postgresql"
    print(
        json.dumps(
            {
                "batches": batches,
                "default_policy": default
                and {
                    k: default[k]
                    for k in (
                        "batch_size",
                        "max_batch_delay_s",
                        "gas_per_event",
                        "events_per_s",
                        "p50_final_s",
                        "p99_final_s",
                    )
                },
                "baseline_per_event_tx": baseline
                and {k: baseline[k] for k in ("gas_per_event", "events_per_s")},
                "settings": {
                    "duration_s": args.duration,
                    "rate_events_per_s": args.rate,
                    "default_policy_rate_events_per_s": args.default_rate,
                    "producers": args.producers,
                    "block_time_s": BLOCK_TIME,
                    "confirmations": CONFIRMATIONS,
                    "database": database,
                    "baseline": baseline and baseline["contract_call"],
                },
            }
        )
    )


if __name__ == "__main__":
    main()
