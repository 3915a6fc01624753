#!/usr/bin/env python3
"""Ingest benchmark: one gateway process vs a bare paho subscriber, same broker, QoS, rate.

A publisher process sends pre-signed readings at a fixed rate (above the gateway's capacity)
for --duration seconds to a private Mosquitto on loopback, as devices do: each device keeps
every reading until the gateway's ack covers it and resends what stays unacknowledged, and a
reading its MQTT client refuses (queue full) is sent again once the client takes it.
Phase 1: `python -m iot_gateway` verifies, stores (durable commits) and acks them; its rate is
the accepted counter's growth over the publishing window (from its Prometheus endpoint), then
the devices drain their backlog until every reading is acked, and the database is checked:
every published (device, seq) stored exactly once. Reported apart: what the device clients
refused at first, what the broker dropped ($SYS), what devices resent, what was stored.
Phase 2: the same payloads at the same rate to a bare paho subscriber (QoS 1, same
ReceiveMaximum) that only parses JSON. Last line: one JSON object.

Before, the publisher ignored paho's refusals: with more than 65,535 messages unacknowledged
by the broker, paho's publish() returns MQTT_ERR_QUEUE_SIZE (no message id free) and drops
the message, and nothing resent it. The ~131,000 readings missing after two runs at 9,000/s
for 60 s were such refusals (a run instrumented at 9,000/s for 40 s counted 196,605 of them,
rc 15, while the broker's $SYS dropped count stayed 0): they never reached the broker.

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
import threading
import time
import urllib.request
from collections import deque
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from device.client import SimulatedDevice  # noqa: E402

CHAIN_ID = 31337
ANCHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
Message = tuple[str, bytes, str, int]  # topic, payload, device (lowercase), seq
RESEND_LIMIT = 100  # readings a device resends per pass (oldest unacked first)
RESEND_BACKOFF_MAX_S = 60.0


def sign_payloads(
    keys: list[bytes], total: int, chain_id: int, anchor: str
) -> tuple[list[Message], list[str]]:
    """`total` signed reading payloads round-robin over the keys (coincurve: fast to prepare)."""
    import coincurve
    from eth_account import Account

    from core.eip712 import Reading, anchor_domain, reading_digest
    from device.client import reading_payload
    from device.mqtt_link import readings_topic

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


class PrebuiltDevice(SimulatedDevice):
    """A simulated device whose readings were built and signed before the run.

    Building a Reading (its field checks) costs about 60 us and signing far more: at 9,000/s
    that is more than half a core of the two this runs on, taken from the gateway measured.
    Everything else is the device's own store-and-forward logic (SimulatedDevice): it keeps
    each reading until an ack covers it (`handle_ack`) and hands out what is due for a resend
    (`due_for_resend`).
    """

    def hand_out(self, seq: int, payload: bytes) -> None:
        """Number the next reading `seq` (in order) and keep it until acked, as signed_payload."""
        with self._lock:
            if seq != self.next_seq:
                raise ValueError(f"seq {seq} handed out, {self.next_seq} expected")
            self.next_seq = seq + 1
            self._unacked[seq] = (payload, time.monotonic())


def publisher(
    port: int, payload_file: str, keys: list[bytes], options: dict[str, Any], result_file: str
) -> None:
    """Publish the readings as devices do; save counts and publish times to `result_file`.

    Readings go out at options["rate"]/s (QoS 1) for options["duration"] s, round-robin over
    the devices, over options["connections"] MQTT connections (each device always on the
    same one). Each connection's client holds at most options["client_queue"] messages not yet
    acknowledged by the broker (paho refuses the rest, and numbers at most 65,535 at a time):
    a refused reading waits, in order, and is published again as soon as the client takes it.
    With options["acks"], each device follows its acks topic and, once its ack has not advanced
    for options["resend_after_s"], resends up to RESEND_LIMIT of what is unacknowledged that
    long (oldest first), backing off (doubling the wait) while its ack stays put; after the
    publishing window it keeps doing so until every reading is acknowledged or
    options["drain_timeout_s"] passes.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

    from core.eip712 import anchor_domain

    messages: list[Message] = pickle.loads(Path(payload_file).read_bytes())
    rate, duration = options["rate"], options["duration"]
    with_acks, resend_after = bool(options["acks"]), float(options["resend_after_s"])
    domain = anchor_domain(CHAIN_ID, ANCHOR)
    devices = [PrebuiltDevice(key, domain) for key in keys]
    by_ack_topic = {device.ack_topic: index for index, device in enumerate(devices)}
    # When each device's ack last advanced (its first reading's time until its first ack).
    progress = [time.monotonic()] * len(devices)
    acks = [0]
    connections = max(1, min(options["connections"], len(devices)))
    clients: list[mqtt.Client] = []
    subscribed = [threading.Event() for _ in range(connections)]

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        index = by_ack_topic.get(msg.topic)
        if index is None:
            return
        device = devices[index]
        before = device.acked_seq
        seq = device.handle_ack(bytes(msg.payload))
        acks[0] += 1
        if seq is not None and (before is None or seq > before):
            progress[index] = time.monotonic()

    for c in range(connections):
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-devices-{options['phase']}-{c}",
            protocol=mqtt.MQTTv5,
        )
        client.max_inflight_messages_set(options["inflight"])
        client.max_queued_messages_set(options["client_queue"])
        mine = devices[c::connections]
        done = subscribed[c]

        def on_connect(cl: Any, *_a: Any, mine: list[PrebuiltDevice] = mine) -> None:
            if with_acks:
                cl.subscribe([(device.ack_topic, 1) for device in mine])

        client.on_connect = on_connect
        client.on_subscribe = lambda *_a, done=done: done.set()
        client.on_message = on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append(client)
        if not with_acks:
            done.set()
    for done in subscribed:
        if not done.wait(60):
            raise SystemExit("bench publisher: no SUBACK for the acks topics")

    counts = {"first_refused": 0, "client_retries": 0, "resent": 0, "resend_refused": 0}
    resent_keys: set[tuple[int, int]] = set()
    # Per connection, in order: messages its client refused (queue full), sent again as soon
    # as it takes them; later ones wait behind them, as in a device's outbox.
    held: list[deque[tuple[str, bytes]]] = [deque() for _ in range(connections)]

    def send(index: int, topic: str, payload: bytes) -> bool:
        """Publish, or hold for a retry; False if the client did not take it now."""
        c = index % connections
        if not held[c]:
            info = clients[c].publish(topic, payload, qos=1)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                return True
        held[c].append((topic, payload))
        return False

    def retry_held() -> None:
        for c, waiting in enumerate(held):
            while waiting:
                topic, payload = waiting[0]
                if clients[c].publish(topic, payload, qos=1).rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                waiting.popleft()
                counts["client_retries"] += 1

    # Per device: the stall that triggers its next resend, doubled after each resend while its
    # ack does not move (up to RESEND_BACKOFF_MAX_S), back to resend_after once it does.
    backoff = [resend_after] * len(devices)
    last_resend = [0.0] * len(devices)

    def resend_pass() -> None:
        now = time.monotonic()
        for index, device in enumerate(devices):
            if progress[index] > last_resend[index]:
                backoff[index] = resend_after  # acks moved since the last resend
            waited = now - max(progress[index], last_resend[index])
            if waited < backoff[index]:
                continue
            # The oldest unacked first: the ack is cumulative, so they are what unblocks it.
            due = device.due_for_resend(resend_after, RESEND_LIMIT)
            if not due:
                continue
            last_resend[index] = now
            backoff[index] = min(backoff[index] * 2, RESEND_BACKOFF_MAX_S)
            for seq, payload in due:
                counts["resent"] += 1
                resent_keys.add((index, seq))
                if not send(index, device.topic, payload):
                    counts["resend_refused"] += 1

    def unacked_total() -> int:
        # Every seq handed out stays unacked until an ack covers it (acks are cumulative).
        return sum(d.next_seq - (0 if d.acked_seq is None else d.acked_seq + 1) for d in devices)

    times = [0.0] * len(messages)
    samples: list[tuple[float, int, int]] = []
    started = time.monotonic()
    progress[:] = [started] * len(devices)
    sent = 0
    next_resend = next_sample = started
    while sent < len(messages):
        now = time.monotonic()
        elapsed = now - started
        if elapsed >= duration:
            break
        retry_held()
        due = min(len(messages), int(elapsed * rate) + 1)
        while sent < due:
            topic, payload, _device, seq = messages[sent]
            index = sent % len(devices)
            devices[index].hand_out(seq, payload)
            times[sent] = time.time()
            if not send(index, topic, payload):
                counts["first_refused"] += 1
            sent += 1
        if with_acks and now >= next_resend:
            next_resend = now + 0.5
            resend_pass()
        if now >= next_sample:
            next_sample = now + 5.0
            samples.append((round(elapsed, 1), sent, unacked_total()))
        time.sleep(0.002)
    elapsed = time.monotonic() - started
    all_acked_at: float | None = None
    if with_acks:
        deadline = time.monotonic() + options["drain_timeout_s"]
        while time.monotonic() < deadline:
            left = unacked_total()
            if time.monotonic() >= next_sample:
                next_sample = time.monotonic() + 5.0
                samples.append((round(time.monotonic() - started, 1), sent, left))
            if left == 0:
                all_acked_at = time.monotonic() - started
                break
            if time.monotonic() >= next_resend:
                next_resend = time.monotonic() + 0.5
                resend_pass()
            retry_held()
            time.sleep(0.02)
    for client in clients:
        client.disconnect()
        client.loop_stop()
    Path(result_file).write_bytes(
        pickle.dumps(
            {
                "times": times[:sent],
                "sent": sent,
                "elapsed": elapsed,
                **counts,
                "resent_readings": len(resent_keys),
                "acks": acks[0],
                "unacked": unacked_total(),
                "all_acked_at": all_acked_at,
                "samples": samples,
            }
        )
    )


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
    parser.add_argument("--connections", type=int, default=4, help="device-side MQTT connections")
    parser.add_argument(
        "--client-queue",
        type=int,
        default=20_000,
        help="messages a device connection holds unacknowledged by the broker (paho: < 65,535)",
    )
    parser.add_argument(
        "--resend-after", type=float, default=10.0, help="seconds an ack may stall before resends"
    )
    parser.add_argument("--receive-maximum", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--broker-max-queued",
        type=int,
        default=0,
        help="the broker's max_queued_messages per client (0: unbounded)",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite WAL FULL)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--py-spy", type=Path, help="profile the gateway with py-spy into this file (collapsed)"
    )
    args = parser.parse_args()
    if args.duration <= 0 or args.rate <= 0 or args.devices <= 0:
        parser.error("--duration, --rate and --devices must be positive")
    if not 0 < args.client_queue < 65_535 - args.receive_maximum:
        parser.error("--client-queue must leave paho's 65,535 message ids room for in-flight ones")
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
    broker_port: int, payload_file: Path, keys: list[bytes], options: dict[str, Any], out: Path
) -> mp.Process:
    proc = mp.Process(
        target=publisher, args=(broker_port, str(payload_file), keys, options, str(out))
    )
    proc.start()
    return proc


class SysWatcher:
    """Follows the broker's $SYS counter of messages it dropped (queue limits), every 10 s."""

    TOPIC = "$SYS/broker/publish/messages/dropped"

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.dropped: int | None = None
        self.updated = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-sys", protocol=mqtt.MQTTv5
        )
        self._client.on_connect = lambda c, *_a: c.subscribe(self.TOPIC)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        self.dropped = int(msg.payload)
        self.updated.set()

    def fresh(self, timeout: float = 15.0) -> int | None:
        """The counter as the broker next publishes it (it does every sys_interval, 10 s)."""
        self.updated.clear()
        self.updated.wait(timeout)
        return self.dropped

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


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

    broker = MosquittoBroker(
        binary,
        work / "broker",
        max_inflight=args.receive_maximum,
        max_queued=args.broker_max_queued,
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
    options: dict[str, Any] = {
        "rate": args.rate,
        "duration": args.duration,
        "connections": args.connections,
        "client_queue": args.client_queue,
        "inflight": args.receive_maximum,
        "resend_after_s": args.resend_after,
        "drain_timeout_s": args.drain_timeout,
    }
    log = (work / "gateway.log").open("wb")
    command = [sys.executable, "-m", "iot_gateway"]
    if args.py_spy is not None:
        spy = str(Path(sys.executable).with_name("py-spy"))
        command = [spy, "record", "-f", "raw", "-t", "-s", "-o", str(args.py_spy), "--", *command]
    gateway = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    watcher = SysWatcher(broker.port)
    result: dict[str, Any] = {}
    try:
        _wait(lambda: _connected(metrics_port) or gateway.poll() is not None, 60, "the gateway")
        if gateway.poll() is not None:
            raise SystemExit(f"bench: gateway exited: {(work / 'gateway.log').read_text()[-2000:]}")
        print(f"phase 1: gateway, {args.rate}/s for {args.duration}s", file=sys.stderr, flush=True)
        out = work / "publisher-gateway.pickle"
        pub = _run_publisher(
            broker.port, payload_file, keys, {**options, "phase": "gw", "acks": True}, out
        )
        t0, a0 = time.monotonic(), _accepted(metrics_port)
        accepted_samples: list[tuple[float, float]] = []
        while pub.is_alive() and time.monotonic() - t0 < args.duration:
            accepted_samples.append((round(time.monotonic() - t0, 1), _accepted(metrics_port)))
            pub.join(min(5.0, max(0.1, args.duration - (time.monotonic() - t0))))
        t1, a1 = time.monotonic(), _accepted(metrics_port)
        gateway_rate = (a1 - a0) / (t1 - t0)
        print("draining: devices resend until every reading is acked", file=sys.stderr, flush=True)
        pub.join()
        drained = time.monotonic() - t0
        if pub.exitcode != 0:
            raise SystemExit(f"bench: the publisher failed (exit code {pub.exitcode})")
        published = pickle.loads(out.read_bytes())
        total = published["sent"]
        publish_rate = total / published["elapsed"]
        dropped = watcher.fresh()
        samples = _metrics(metrics_port)
        target = _gateway_pid(gateway.pid) if args.py_spy is not None else gateway.pid
        rss = _peak_rss_mb(target)
        os.kill(target, signal.SIGTERM)
        gateway.wait(timeout=60)
        _discard_session(broker.port, "bench-gateway")
        rows, distinct, stored = _stored(url)
        wanted = {(m[2], m[3]) for m in messages[:total]}
        got = {(d.lower(), s) for d, s, _ in stored}
        first_sent_at = {
            (m[2], m[3]): t for m, t in zip(messages[:total], published["times"], strict=True)
        }
        latencies = [
            (received - first_sent_at[(d.lower(), s)]) * 1000
            for d, s, received in stored
            if (d.lower(), s) in first_sent_at
        ]
        buckets = {
            float(name.split("le=")[1].rstrip("}")): value
            for name, value in samples.items()
            if name.startswith("chaintrace_gateway_ack_latency_seconds_bucket")
        }
        result.update(
            gateway_readings_per_s=round(gateway_rate, 1),
            publish_rate_per_s=round(publish_rate, 1),
            published=total,
            refused_by_device_client=published["first_refused"],
            device_client_retries=published["client_retries"],
            broker_dropped=dropped,
            resent=published["resent"],
            resent_readings=published["resent_readings"],
            resend_refused_by_device_client=published["resend_refused"],
            acks_received=published["acks"],
            all_acked_after_s=(
                round(published["all_acked_at"], 1) if published["all_acked_at"] else None
            ),
            unacked_at_end=published["unacked"],
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
            drain_s=round(drained, 1),
            db=db,
        )
        (work / "progress.json").write_text(
            json.dumps({"publisher": published["samples"], "accepted": accepted_samples})
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
        out2 = work / "publisher-bare.pickle"
        pub = _run_publisher(
            broker.port, payload_file, keys, {**options, "phase": "bare", "acks": False}, out2
        )
        t0, c0 = time.monotonic(), count.value
        pub.join()
        t1, c1 = time.monotonic(), count.value
        bare_rate = (c1 - c0) / (t1 - t0)
        bare_published = pickle.loads(out2.read_bytes())
        result["bare_publish_rate_per_s"] = round(
            bare_published["sent"] / bare_published["elapsed"], 1
        )
        result["bare_refused_by_device_client"] = bare_published["first_refused"]
        bare.terminate()
        bare.join(10)
        result.update(
            bare_subscriber_per_s=round(bare_rate, 1),
            ratio=round(gateway_rate / bare_rate, 3) if bare_rate else None,
            duration_s=args.duration,
            devices=args.devices,
            connections=args.connections,
            receive_maximum=args.receive_maximum,
            cpus=os.cpu_count(),
            work=str(work),
        )
    finally:
        watcher.close()
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
