"""The gateway process: MQTT in (QoS 1, manual acks), batched storage, device acks, roll-up."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain, anchor_domain
from device.mqtt_link import make_client
from iot_gateway.metrics import GatewayMetrics
from iot_gateway.mqtt import AckPublisher, connect_properties, subscription_filter
from iot_gateway.payload import PayloadLimits, PayloadRejected, RejectReason
from iot_gateway.pipeline import BatchWriter, Inbound, cap_payload
from iot_gateway.registry import DeviceRegistry
from iot_gateway.retention import purge_dead_letters_once
from iot_gateway.rollup import rollup_once
from iot_gateway.settings import GatewaySettings
from iot_gateway.verifier import Verifier
from store.db import make_engine, session_factory

_LOGGER = logging.getLogger(__name__)


def reading_domain(settings: GatewaySettings) -> Domain:
    """The TraceAnchor EIP-712 domain readings are signed under."""
    return anchor_domain(settings.reading_chain_id, settings.reading_verifying_contract)


def _verify_processes(argument: int | None, setting: int | None) -> int:
    """The argument, else GATEWAY_VERIFY_PROCESSES, else the default for this machine."""
    chosen = argument if argument is not None else setting
    return default_verify_processes() if chosen is None else chosen


def default_verify_processes() -> int:
    """Verifier processes when none are asked for: one if there is a second core, else inline."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


class Gateway:
    """Subscribe, verify, store, ack. run() blocks; start() runs in the background; stop() ends.

    Threads: paho's network loop only queues raw messages; a batcher hands batches to the
    verifier (JSON, digest, ECDSA recovery in `verify_processes` worker processes, or inline
    with 0); the writer stores each verified batch in one transaction, then acks it.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        engine: Engine | None = None,
        verify_processes: int | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics()
        self._owns_engine = engine is None
        self.engine = (
            engine
            if engine is not None
            else make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        )
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.registry = DeviceRegistry(
            self.sessions,
            refresh_s=settings.registry_refresh_s,
            miss_reload_s=settings.registry_miss_reload_s,
            revoked_backlog_s=settings.revoked_backlog_s,
        )
        self.domain = reading_domain(settings)
        self._limits = PayloadLimits(
            max_bytes=settings.max_payload_bytes,
            max_future_skew_ms=settings.max_future_skew_s * 1000,
        )
        self._queue: queue.Queue[Inbound] = queue.Queue(maxsize=settings.queue_size)
        self.metrics.queue_depth.set_function(self._queue.qsize)
        self._peak_depth = 0
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
        # Device acks: the newest per device, on a connection of their own, so the broker's
        # confirmations do not wait behind the readings in flight to the gateway, nor on
        # the network thread above while it waits for room in the inbox.
        self.ack_client = make_client(
            settings.mqtt,
            f"{settings.client_id}-acks",
            settings.protocol,
            ca_file=settings.mqtt_ca_file,
        )
        self.acks = AckPublisher(self.ack_client, max_in_flight=settings.receive_maximum)
        self.ack_client.on_publish = self.acks.on_published
        # Set once the broker acknowledged the subscription: readings published now arrive.
        self.ready = threading.Event()
        self.verifier = Verifier(
            self.domain,
            self._limits,
            self.registry.status,
            _now_ms,
            processes=_verify_processes(verify_processes, settings.verify_processes),
            backlog=self.registry.accepts_backlog,
        )
        self.writer = BatchWriter(
            settings,
            self.sessions,
            self.registry,
            self.metrics,
            self._queue,
            self._stopping,
            ack=self._ack,
            publish_ack=self._publish_ack,
            submit=self.verifier.submit,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Load the registry, connect (retrying in the background) and start the workers."""
        self.registry.reload()
        self.verifier.start()
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
        self.ack_client.connect_async(endpoint.host, endpoint.port, self.settings.keepalive_s)
        self.ack_client.loop_start()
        self.acks.start()
        self.client.loop_start()
        for name, target in (
            ("batcher", self.writer.run_batcher),
            ("writer", self.writer.run),
            ("maintenance", self._maintain),
        ):
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
        self.acks.close()
        self.ack_client.disconnect()
        self.ack_client.loop_stop()
        self.client.disconnect()
        self.client.loop_stop()
        self.verifier.close()
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
        received = time.monotonic()
        try:
            item = self._inbound(msg, received)
        except Exception as exc:  # one bad message never stops the loop
            _LOGGER.exception("unexpected error on message from %s", msg.topic)
            item = Inbound(
                msg.mid,
                msg.qos,
                self._generation,
                msg.topic,
                cap_payload(bytes(msg.payload)),
                received,
                reject=PayloadRejected(RejectReason.INTERNAL_ERROR, repr(exc)[:200]),
            )
        # Blocks while the inbox is full: paho stops reading the socket, the broker stops
        # sending (ReceiveMaximum), so a flood costs bounded memory, never dropped messages.
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.5)
            except queue.Full:
                continue
            depth = self._queue.qsize()
            if depth > self._peak_depth:
                self._peak_depth = depth
                self.metrics.queue_peak.set(depth)
            return
        # Stopping: leave it unacknowledged, the broker redelivers it to the next session.

    def _inbound(self, msg: mqtt.MQTTMessage, received: float) -> Inbound:
        """Queue the raw message: the verifier does the CPU work, off this (network) thread."""
        payload = bytes(msg.payload)  # no copy when paho already holds bytes
        kept = cap_payload(payload)
        if len(payload) > self._limits.max_bytes:
            # Refused here, so the inbox never holds more than max_bytes per message.
            topic = msg.topic
            base = Inbound(
                msg.mid, msg.qos, self._generation, topic, kept, received, size=len(payload)
            )
            reject = PayloadRejected(
                RejectReason.TOO_LARGE,
                f"{len(payload)} bytes > {self._limits.max_bytes}",
                device=base.topic_device,
            )
            return base.with_outcome(reject=reject)
        return Inbound(
            msg.mid,
            msg.qos,
            self._generation,
            msg.topic,
            kept,
            received,
            raw=payload,
            size=len(payload),
        )

    # -- called from the writer thread -----------------------------------------------------

    def _ack(self, items: Sequence[Inbound]) -> None:
        with self._gen_lock:
            for item in items:
                if item.generation == self._generation and item.qos > 0:
                    self.client.ack(item.mid, item.qos)

    def _publish_ack(self, device: str, seq: int) -> None:
        # Retained, so a device that reconnects learns at once where to resume.
        self.acks.publish(device, seq)

    # -- maintenance thread ----------------------------------------------------------------

    def _maintain(self) -> None:
        next_rollup = time.monotonic()
        next_stats = time.monotonic()
        next_purge = time.monotonic()
        while not self._stopping.wait(0.5):
            try:
                self.registry.refresh_if_due()
            except Exception:
                _LOGGER.exception("device registry refresh failed")
            now = time.monotonic()
            if now >= next_rollup:
                next_rollup = now + self.settings.rollup_interval_s
                self.run_rollup()
            if now >= next_purge:
                next_purge = now + self.settings.dead_letter_purge_interval_s
                purge_dead_letters_once(self.sessions, self.settings, self.metrics)
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
