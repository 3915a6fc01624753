#!/usr/bin/env python3
"""Ingest benchmark: one gateway process vs a bare paho subscriber, same broker, QoS, rate.

A publisher process sends pre-signed readings at a fixed rate (above the gateway's capacity)
for --duration seconds to a private Mosquitto on loopback. Phase 1: `python -m iot_gateway`
verifies, stores (durable commits) and acks them; its rate is the accepted counter's growth
over the publishing window (from its Prometheus endpoint), then the backlog is drained and the
database checked: every published (device, seq) stored exactly once. Phase 2: the same
payloads at the same rate to a bare paho subscriber (QoS 1, same ReceiveMaximum) that only
parses JSON. Last line: one JSON object.

    .venv/bin/python bench/ingest.py            # 60 s per phase, SQLite WAL synchronous=FULL
    .venv/bin/python bench/ingest.py --duration 10 --rate 3000
    .venv/bin/python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHAIN_ID = 31337
ANCHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
Message = tuple[str, bytes, str, int]  # topic, payload, device (lowercase), seq


def sign_payloads(
    keys: list[bytes], total: int, chain_id: int, anchor: str
) -> tuple[list[Message], list[str]]:
    """`total` signed reading payloads round-robin over the keys (coincurve: fast to prepare)."""
    import coincurve
    from eth_account import Account

    from core.eip712 import Reading, anchor_domain, reading_digest
    from iot_gateway.device import reading_payload
    from iot_gateway.mqtt import readings_topic

    domain = anchor_domain(chain_id, anchor)
    signers = [coincurve.PrivateKey(k) for k in keys]
    addresses = [Account.from_key(k).address for k in keys]
    now_ms = time.time_ns() // 1_000_000
    out: list[Message] = []
    for i in range(total):
        index, seq = i % len(keys), i // len(keys)
        reading = Reading(
            device=addresses[index],
            seq=seq,
            taken_at_ms=now_ms + i // 1000,
            temperature_centi_c=400 + i % 50,
            humidity_centi_pct=6000,
            shock_milli_g=0,
            lat_e7=523_456_789,
            lon_e7=134_567_890,
        )
        sig = signers[index].sign_recoverable(reading_digest(reading, domain), hasher=None)
        signature = sig[:64] + bytes([sig[64] + 27])
        out.append(
            (
                readings_topic(addresses[index]),
                reading_payload(reading, signature),
                addresses[index].lower(),
                seq,
            )
        )
    return out, addresses


def publisher(port: int, payload_file: str, rate: int, duration: float, times_file: str) -> None:
    """Publish the payloads at `rate`/s (QoS 1) for `duration` s; save publish times."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    messages: list[Message] = pickle.loads(Path(payload_file).read_bytes())
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    times: dict[tuple[str, int], float] = {}
    started = time.monotonic()
    sent = 0
    info = None
    while sent < len(messages):
        elapsed = time.monotonic() - started
        if elapsed >= duration:
            break
        due = min(len(messages), int(elapsed * rate) + 1)
        while sent < due:
            topic, payload, device, seq = messages[sent]
            times[(device, seq)] = time.time()
            info = client.publish(topic, payload, qos=1)
            sent += 1
        time.sleep(0.002)
    elapsed = time.monotonic() - started
    if info is not None:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()
    Path(times_file).write_bytes(pickle.dumps({"times": times, "sent": sent, "elapsed": elapsed}))


def bare_subscriber(port: int, receive_maximum: int, count: Any, ready: Any) -> None:
    """Subscribe at QoS 1 with the same ReceiveMaximum; only parse each payload as JSON."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from iot_gateway.mqtt import READINGS_FILTER, connect_properties

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    local = [0]

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        json.loads(msg.payload)
        local[0] += 1
        if local[0] % 50 == 0:
            count.value = local[0]

    client.on_message = on_message
    client.on_subscribe = lambda *_a: ready.set()
    client.on_connect = lambda c, *_a: c.subscribe(READINGS_FILTER, qos=1)
    client.connect(
        "127.0.0.1", port, clean_start=True, properties=connect_properties(0, receive_maximum)
    )
    client.loop_forever()


def histogram_quantile(buckets: dict[float, float], q: float) -> float:
    """Prometheus-style quantile from cumulative buckets {le: count} (linear within a bucket)."""
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0
    if total == 0:
        return 0.0
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, cumulative in ordered:
        if cumulative >= rank:
            if le == float("inf"):
                return prev_le
            width = cumulative - prev_count
            return prev_le + (le - prev_le) * ((rank - prev_count) / width if width else 1.0)
        prev_le, prev_count = le, cumulative
    return prev_le


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of values (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def _discard_session(port: int, client_id: str) -> None:
    """Drop the gateway's persistent session so phase 2 does not feed its queue too."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port, clean_start=True)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of publishing")
    parser.add_argument("--rate", type=int, default=9000, help="readings per second published")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--receive-maximum", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite WAL FULL)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--py-spy", type=Path, help="profile the gateway with py-spy into this file (collapsed)"
    )
    args = parser.parse_args()
    if args.duration <= 0 or args.rate <= 0 or args.devices <= 0:
        parser.error("--duration, --rate and --devices must be positive")
    return args


def _metrics(port: int) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
    return out


def _accepted(port: int) -> float:
    return _metrics(port).get("chaintrace_gateway_readings_accepted_total", 0.0)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _db_description(url: str) -> str:
    if url.startswith("sqlite"):
        return "sqlite-wal-synchronous-full"
    import psycopg

    from tests.utils.postgres import _libpq_url

    with psycopg.connect(_libpq_url(url)) as conn:
        fsync = conn.execute("SHOW fsync").fetchone()
        sync_commit = conn.execute("SHOW synchronous_commit").fetchone()
    fsync_text = fsync[0] if fsync else "?"
    commit_text = sync_commit[0] if sync_commit else "?"
    return f"postgresql-fsync-{fsync_text}-synchronous_commit-{commit_text}"


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.2)


def _register(url: str, addresses: list[str]) -> None:
    from store.db import make_engine, session_factory, transaction, upgrade
    from store.models import Device, Principal, Role

    upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            owner = Principal(name="bench carrier", role=Role.CARRIER)
            session.add(owner)
            session.flush()
            session.add_all(Device(address=a, owner_principal_id=owner.id) for a in addresses)
    finally:
        engine.dispose()


def _stored(url: str) -> tuple[int, int, list[tuple[str, int, float]]]:
    """(rows, distinct (device, seq), [(device, seq, received_at unix s)])."""
    from sqlalchemy import func, select

    from store.db import make_engine, session_factory
    from store.models import Reading

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(
                select(Reading.device_address, Reading.seq, Reading.received_at)
            ).all()
            distinct = session.scalar(
                select(func.count()).select_from(
                    select(Reading.device_address, Reading.seq).distinct().subquery()
                )
            )
    finally:
        engine.dispose()
    return len(rows), int(distinct or 0), [(d, s, r.timestamp()) for d, s, r in rows]


def _run_publisher(
    broker_port: int, payload_file: Path, rate: int, duration: float, times_file: Path
) -> mp.Process:
    proc = mp.Process(
        target=publisher, args=(broker_port, str(payload_file), rate, duration, str(times_file))
    )
    proc.start()
    return proc


def main() -> int:
    """Run both phases; print progress to stderr and the JSON result last on stdout."""
    args = _args()
    from tests.utils.mosquitto import MosquittoBroker, find_mosquitto, free_port

    binary = find_mosquitto()
    if binary is None:
        raise SystemExit("bench: mosquitto not found (apt-get install mosquitto)")
    work = Path(tempfile.mkdtemp(prefix="chaintrace-bench-"))
    total = int(args.rate * args.duration)
    keys = [hashlib.sha256(f"bench:{i}".encode()).digest() for i in range(args.devices)]
    print(f"signing {total} readings ...", file=sys.stderr, flush=True)
    messages, addresses = sign_payloads(keys, total, CHAIN_ID, ANCHOR)
    payload_file = work / "payloads.pickle"
    payload_file.write_bytes(pickle.dumps(messages))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    _register(url, addresses)
    db = _db_description(url)

    # max_queued 0 = unbounded: the publisher outruns the gateway and the broker keeps the rest.
    broker = MosquittoBroker(
        binary, work / "broker", max_inflight=args.receive_maximum, max_queued=0
    )
    broker.start()
    metrics_port = free_port()
    env = {
        **os.environ,
        "MQTT_URL": broker.url,
        "DATABASE_URL": url,
        "READING_CHAIN_ID": str(CHAIN_ID),
        "READING_VERIFYING_CONTRACT": ANCHOR,
        "GATEWAY_CLIENT_ID": "bench-gateway",
        "GATEWAY_METRICS_PORT": str(metrics_port),
        "GATEWAY_RECEIVE_MAXIMUM": str(args.receive_maximum),
        "GATEWAY_BATCH_SIZE": str(args.batch_size),
        "GATEWAY_QUEUE_SIZE": str(max(args.receive_maximum * 2, args.batch_size * 2)),
        "GATEWAY_SQLITE_SYNCHRONOUS": "FULL",
        "GATEWAY_ROLLUP_INTERVAL_S": "3600",
    }
    log = (work / "gateway.log").open("wb")
    command = [sys.executable, "-m", "iot_gateway"]
    if args.py_spy is not None:
        spy = str(Path(sys.executable).with_name("py-spy"))
        command = [spy, "record", "-f", "raw", "-t", "-s", "-o", str(args.py_spy), "--", *command]
    gateway = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    result: dict[str, Any] = {}
    try:
        _wait(lambda: _connected(metrics_port) or gateway.poll() is not None, 60, "the gateway")
        if gateway.poll() is not None:
            raise SystemExit(f"bench: gateway exited: {(work / 'gateway.log').read_text()[-2000:]}")
        print(f"phase 1: gateway, {args.rate}/s for {args.duration}s", file=sys.stderr, flush=True)
        times_file = work / "publish_times.pickle"
        pub = _run_publisher(broker.port, payload_file, args.rate, args.duration, times_file)
        t0, a0 = time.monotonic(), _accepted(metrics_port)
        pub.join()
        t1, a1 = time.monotonic(), _accepted(metrics_port)
        gateway_rate = (a1 - a0) / (t1 - t0)
        published = pickle.loads(times_file.read_bytes())
        publish_rate = published["sent"] / published["elapsed"]
        total = published["sent"]
        _wait(lambda: _accepted(metrics_port) >= total, args.drain_timeout, "the backlog")
        samples = _metrics(metrics_port)
        target = _gateway_pid(gateway.pid) if args.py_spy is not None else gateway.pid
        rss = _peak_rss_mb(target)
        os.kill(target, signal.SIGTERM)
        gateway.wait(timeout=60)
        _discard_session(broker.port, "bench-gateway")
        rows, distinct, stored = _stored(url)
        wanted = {(m[2], m[3]) for m in messages[:total]}
        got = {(d.lower(), s) for d, s, _ in stored}
        latencies = [
            (received - published["times"][(d.lower(), s)]) * 1000
            for d, s, received in stored
            if (d.lower(), s) in published["times"]
        ]
        buckets = {
            float(name.split("le=")[1].rstrip("}")): value
            for name, value in samples.items()
            if name.startswith("chaintrace_gateway_ack_latency_seconds_bucket")
        }
        result.update(
            gateway_readings_per_s=round(gateway_rate, 1),
            publish_rate_per_s=round(publish_rate, 1),
            p50_ms=round(histogram_quantile(buckets, 0.5) * 1000, 1),
            p99_ms=round(histogram_quantile(buckets, 0.99) * 1000, 1),
            e2e_p50_ms=round(percentile(latencies, 0.5), 1),
            e2e_p99_ms=round(percentile(latencies, 0.99), 1),
            peak_rss_mb=rss,
            readings=rows,
            lost=len(wanted - got),
            duplicates=rows - distinct,
            redelivered=int(samples.get("chaintrace_gateway_readings_duplicate_total", 0)),
            queue_peak=int(samples.get("chaintrace_gateway_queue_depth_peak", 0)),
            saturated=publish_rate > gateway_rate * 1.05,
            db=db,
        )
        # Phase 2: the same payloads, the same rate, a subscriber that only parses JSON.
        print("phase 2: bare subscriber", file=sys.stderr, flush=True)
        count: Synchronized[int] = mp.Value("q", 0)
        ready = mp.Event()
        bare = mp.Process(
            target=bare_subscriber, args=(broker.port, args.receive_maximum, count, ready)
        )
        bare.start()
        if not ready.wait(30):
            raise SystemExit("bench: bare subscriber did not subscribe")
        pub = _run_publisher(broker.port, payload_file, args.rate, args.duration, work / "t2")
        t0, c0 = time.monotonic(), count.value
        pub.join()
        t1, c1 = time.monotonic(), count.value
        bare_rate = (c1 - c0) / (t1 - t0)
        bare_published = pickle.loads((work / "t2").read_bytes())
        result["bare_publish_rate_per_s"] = round(
            bare_published["sent"] / bare_published["elapsed"], 1
        )
        bare.terminate()
        bare.join(10)
        result.update(
            bare_subscriber_per_s=round(bare_rate, 1),
            ratio=round(gateway_rate / bare_rate, 3) if bare_rate else None,
            duration_s=args.duration,
            devices=args.devices,
            receive_maximum=args.receive_maximum,
            cpus=os.cpu_count(),
        )
    finally:
        if gateway.poll() is None:
            gateway.kill()
        broker.stop()
        log.close()
    print(json.dumps(result, sort_keys=True))
    return 0


def _gateway_pid(spy_pid: int) -> int:
    """The gateway process py-spy started (its child running `-m iot_gateway`)."""
    for task in Path(f"/proc/{spy_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if b"iot_gateway" in cmdline:
                return int(child)
    raise SystemExit("bench: py-spy's gateway process not found")


def _connected(port: int) -> bool:
    try:
        return _metrics(port).get("chaintrace_gateway_connected", 0) == 1
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
