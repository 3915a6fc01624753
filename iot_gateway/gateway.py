"""The gateway process: MQTT in (QoS 1, manual acks), batched storage, device acks, roll-up."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain, anchor_domain
from iot_gateway.metrics import GatewayMetrics
from iot_gateway.mqtt import (
    acks_topic,
    connect_properties,
    make_client,
    subscription_filter,
)
from iot_gateway.payload import (
    DeviceStatus,
    PayloadLimits,
    PayloadRejected,
    SignedReading,
    UnverifiedReading,
    authenticate,
    decode_reading,
)
from iot_gateway.registry import DeviceRegistry
from iot_gateway.rollup import rollup_once
from iot_gateway.settings import GatewaySettings
from iot_gateway.writer import BatchResult, write_batch
from store.db import make_engine, session_factory, transaction
from store.errors import StoreValueError

_LOGGER = logging.getLogger(__name__)
_RETRY_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class _Inbound:
    """A received message waiting for the writer: what to store (if anything) and what to ack."""

    mid: int
    qos: int
    generation: int
    topic: str
    reading: SignedReading | None = None
    # Known-good shape from a device the cache did not know: re-checked after a registry reload.
    unknown: UnverifiedReading | None = None


def reading_domain(settings: GatewaySettings) -> Domain:
    """The TraceAnchor EIP-712 domain readings are signed under."""
    return anchor_domain(settings.reading_chain_id, settings.reading_verifying_contract)


class Gateway:
    """Subscribe, verify, store, ack. run() blocks; start() runs in the background; stop() ends."""

    def __init__(self, settings: GatewaySettings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else make_engine(settings.database_url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.registry = DeviceRegistry(
            self.sessions,
            refresh_s=settings.registry_refresh_s,
            miss_reload_s=settings.registry_miss_reload_s,
        )
        self.domain = reading_domain(settings)
        self._limits = PayloadLimits(
            max_bytes=settings.max_payload_bytes,
            max_future_skew_ms=settings.max_future_skew_s * 1000,
        )
        self._queue: queue.Queue[_Inbound] = queue.Queue(maxsize=settings.queue_size)
        self.metrics.queue_depth.set_function(self._queue.qsize)
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._gen_lock = threading.Lock()
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self.client = make_client(
            settings.mqtt,
            settings.client_id,
            settings.protocol,
            persistent_session=True,
            manual_ack=True,
            ca_file=settings.mqtt_ca_file,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        # Set once the broker acknowledged the subscription: readings published now arrive.
        self.ready = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Load the registry, connect (retrying in the background) and start the workers."""
        self.registry.reload()
        if self.settings.metrics_port is not None:
            port = self.metrics.serve(self.settings.metrics_host, self.settings.metrics_port)
            _LOGGER.info("metrics on http://%s:%d/metrics", self.settings.metrics_host, port)
        endpoint = self.settings.mqtt
        if self.settings.protocol == "5":
            self.client.connect_async(
                endpoint.host,
                endpoint.port,
                keepalive=self.settings.keepalive_s,
                clean_start=False,
                properties=connect_properties(
                    self.settings.session_expiry_s, self.settings.receive_maximum
                ),
            )
        else:
            self.client.connect_async(endpoint.host, endpoint.port, self.settings.keepalive_s)
        self.client.loop_start()
        for name, target in (("writer", self._writer_loop), ("maintenance", self._maintain)):
            thread = threading.Thread(target=target, name=f"gateway-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        _LOGGER.info("gateway %s connecting to %r", self.settings.client_id, endpoint)

    def run(self) -> None:
        """start() and block until stop()."""
        self.start()
        self._stopped.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop taking messages, store and ack what was received, then disconnect."""
        if self._stopping.is_set():
            self._stopped.wait(timeout)
            return
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        self.metrics.close()
        if self._owns_engine:
            self.engine.dispose()
        self._stopped.set()
        _LOGGER.info("gateway stopped: %s", self.metrics.snapshot_json())

    # -- MQTT callbacks (paho's network thread: no I/O beyond the queue) -------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            _LOGGER.error("broker refused the connection: %s", reason)
            return
        topic = subscription_filter(self.settings.protocol, self.settings.shared_group)
        client.subscribe(topic, qos=1)
        _LOGGER.info(
            "connected (session present: %s), subscribed to %s", flags.session_present, topic
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            _LOGGER.error("broker refused the readings subscription: %s", reasons)
            return
        self.metrics.connected.set(1)
        self.ready.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        # Message ids belong to a connection: acks for older ones must never reach a new one.
        with self._gen_lock:
            self._generation += 1
        self.metrics.connected.set(0)
        self.ready.clear()
        if not self._stopping.is_set():
            _LOGGER.warning("disconnected from broker (%s); paho reconnects", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            item = self._classify(msg)
        except Exception:  # one bad message never stops the loop
            _LOGGER.exception("unexpected error on message from %s", msg.topic)
            item = _Inbound(msg.mid, msg.qos, self._generation, msg.topic)
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        # Stopping: leave it unacknowledged, the broker redelivers it to the next session.

    def _classify(self, msg: mqtt.MQTTMessage) -> _Inbound:
        gen = self._generation
        try:
            candidate = decode_reading(
                bytes(msg.payload), msg.topic, self.domain, limits=self._limits, now_ms=_now_ms()
            )
            if self.registry.status(candidate.topic_device) is DeviceStatus.UNKNOWN:
                # Maybe registered since the last reload: the writer reloads (rate-limited).
                return _Inbound(msg.mid, msg.qos, gen, msg.topic, unknown=candidate)
            reading = authenticate(candidate, self.registry.status)
        except PayloadRejected as exc:
            self._count_reject(msg.topic, exc)
            return _Inbound(msg.mid, msg.qos, gen, msg.topic)
        return _Inbound(msg.mid, msg.qos, gen, msg.topic, reading=reading)

    def _count_reject(self, topic: str, exc: PayloadRejected) -> None:
        self.metrics.rejected.labels(reason=exc.reason.value).inc()
        _LOGGER.warning("rejected message on %s: %s", topic[:200], exc)

    # -- writer thread ---------------------------------------------------------------------

    def _take_batch(self) -> list[_Inbound]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.flush_interval_s
        while len(batch) < self.settings.batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _writer_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            try:
                self._process(batch)
            except Exception:
                _LOGGER.exception("writer failed on a batch of %d; left unacknowledged", len(batch))

    def _resolve_unknown(self, batch: list[_Inbound]) -> list[_Inbound] | None:
        if not any(item.unknown is not None for item in batch):
            return batch
        delay = 0.5
        while True:
            try:
                self.registry.reload_for_miss()
                break
            except Exception as exc:
                # Rejecting now would drop readings of devices the database does know.
                _LOGGER.error("device registry reload failed (%s); retrying", exc)
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, _RETRY_MAX_S)
        out = []
        for item in batch:
            if item.unknown is None:
                out.append(item)
                continue
            try:
                reading = authenticate(item.unknown, self.registry.status)
            except PayloadRejected as exc:
                self._count_reject(item.topic, exc)
                out.append(_Inbound(item.mid, item.qos, item.generation, item.topic))
            else:
                out.append(_Inbound(item.mid, item.qos, item.generation, item.topic, reading))
        return out

    def _process(self, batch: list[_Inbound]) -> None:
        resolved = self._resolve_unknown(batch)
        if resolved is None:
            return  # stopping while the database was unavailable: the broker redelivers
        batch = resolved
        readings = [item.reading for item in batch if item.reading is not None]
        result = self._commit(readings) if readings else None
        if readings and result is None:
            return  # stopping while the database was unavailable: the broker redelivers
        with self._gen_lock:
            for item in batch:
                if item.generation == self._generation and item.qos > 0:
                    self.client.ack(item.mid, item.qos)
        if result is not None:
            self._account(result)

    def _commit(self, readings: list[SignedReading]) -> BatchResult | None:
        delay = 0.5
        while True:
            try:
                with transaction(self.sessions) as session:
                    return write_batch(session, readings)
            except StoreValueError as exc:
                # The data, not the database: retrying the same batch would fail forever.
                self.metrics.write_errors.inc()
                return self._commit_one_by_one(readings, exc)
            except Exception as exc:
                self.metrics.write_errors.inc()
                _LOGGER.error("storing %d readings failed (%s); retrying", len(readings), exc)
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, _RETRY_MAX_S)

    def _commit_one_by_one(
        self, readings: list[SignedReading], exc: StoreValueError
    ) -> BatchResult | None:
        if len(readings) == 1:
            r = readings[0].reading
            _LOGGER.error("dropping reading %s #%d the store refuses: %s", r.device, r.seq, exc)
            return BatchResult(0, 0, [], {})
        results = [self._commit([reading]) for reading in readings]
        if any(result is None for result in results):
            return None
        done = [result for result in results if result is not None]
        return BatchResult(
            sum(r.inserted for r in done),
            sum(r.duplicates for r in done),
            [c for r in done for c in r.conflicts],
            {device: seq for r in done for device, seq in r.acked_seq.items()},
        )

    def _account(self, result: BatchResult) -> None:
        self.metrics.batches.inc()
        self.metrics.accepted.inc(result.inserted)
        self.metrics.duplicates.inc(result.duplicates)
        self.metrics.conflicts.inc(len(result.conflicts))
        for conflict in result.conflicts:
            _LOGGER.warning(
                "device %s reused seq %d with different content; kept the first",
                conflict.device_address,
                conflict.seq,
            )
        for device, seq in result.acked_seq.items():
            payload = json.dumps({"device": device, "ackedSeq": seq}, separators=(",", ":"))
            # Retained, so a device that reconnects learns at once where to resume.
            self.client.publish(acks_topic(device), payload, qos=1, retain=True)

    # -- maintenance thread ----------------------------------------------------------------

    def _maintain(self) -> None:
        next_rollup = time.monotonic()
        next_stats = time.monotonic()
        while not self._stopping.wait(0.5):
            try:
                self.registry.refresh_if_due()
            except Exception:
                _LOGGER.exception("device registry refresh failed")
            now = time.monotonic()
            if now >= next_rollup:
                next_rollup = now + self.settings.rollup_interval_s
                self.run_rollup()
            interval = self.settings.stats_interval_s
            if interval is not None and now >= next_stats:
                next_stats = now + interval
                print(self.metrics.snapshot_json(), flush=True)

    def run_rollup(self) -> int:
        """One roll-up pass; returns the number of ObjectEvents recorded (errors logged)."""
        try:
            count = rollup_once(self.sessions, self.settings)
        except Exception:
            _LOGGER.exception("roll-up failed")
            return 0
        self.metrics.rollup_events.inc(count)
        return count


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
