"""The gateway's side of MQTT: the readings subscription, MQTT 5 session properties, acks."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.mqtt_link import READINGS_PREFIX, ProtocolName, ack_payload, acks_topic

READINGS_FILTER = READINGS_PREFIX + "+"

_LOGGER = logging.getLogger(__name__)


def subscription_filter(protocol: ProtocolName, shared_group: str | None) -> str:
    """The readings filter, as a shared subscription when a group is set (MQTT 5 only)."""
    if shared_group is None:
        return READINGS_FILTER
    if protocol != "5":
        raise ValueError("shared subscriptions need MQTT 5")
    return f"$share/{shared_group}/{READINGS_FILTER}"


def connect_properties(session_expiry_s: int, receive_maximum: int) -> Properties:
    """MQTT 5 CONNECT properties: keep the session, and widen the in-flight window."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = receive_maximum
    return props


class AckPublisher:
    """Publishes each device's newest ack (retained, QoS 1), one at a time per device.

    An ack is cumulative, so a newer one makes any older one still waiting pointless: a device
    has at most one ack in flight, and while it is, later acks for it wait and replace each
    other. At most `max_in_flight` acks are unconfirmed by the broker at once; the rest wait
    (one entry per device, so memory is bounded by the fleet, not by the flood).

    Why: handed to paho one per device per batch, acks queued behind its in-flight window
    (20 by default). The broker's PUBACKs for them reach paho's network thread behind the
    readings the broker has in flight to the gateway, and that thread waits whenever the
    inbox is full, so under overload acks got out at ~20/s while batches made ~1,000/s: the
    queue grew without bound (paho refuses publishes once 65,535 are unconfirmed), devices
    heard no acks, resent everything, and the gateway spent its time on duplicates.

    A thread of its own publishes: paho calls `on_published` holding its message lock, so
    that callback only records the message id and wakes the thread (no lock of ours there).
    """

    def __init__(
        self,
        client: mqtt.Client,
        *,
        max_in_flight: int = 1000,
        expire_after_s: float = 60.0,
        qos: int = 1,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._client = client
        self._max_in_flight = max_in_flight
        self._expire_after_s = expire_after_s
        self._qos = qos
        # paho's own window must not hold back what this class lets through.
        client.max_inflight_messages_set(max_in_flight)
        self._lock = threading.Lock()
        self._waiting: dict[str, int] = {}  # device -> newest seq not yet handed to paho
        self._in_flight: dict[int, tuple[str, int, float]] = {}  # mid -> (device, seq, sent)
        self._busy: dict[str, int] = {}  # device -> seq of its ack in flight
        self._confirmed: deque[int] = deque()  # mids paho reported published
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0  # acks handed to paho
        self.superseded = 0  # acks replaced by a newer one before they were sent

    def start(self) -> None:
        """Start the publishing thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gateway-acks", daemon=True)
            self._thread.start()

    def publish(self, device: str, seq: int) -> None:
        """Queue `device`'s ack of every seq up to `seq` (never blocks on the network)."""
        with self._lock:
            sending = self._busy.get(device)
            if sending is not None and seq <= sending:
                return  # that ack, or a newer one, is on its way
            waiting = self._waiting.get(device)
            if waiting is not None:
                self.superseded += 1
                if waiting >= seq:
                    return
            self._waiting[device] = seq
        self._wake.set()

    def on_published(
        self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: Any, _props: Any
    ) -> None:
        """paho's on_publish callback (its network thread): the broker confirmed `mid`."""
        self._confirmed.append(mid)
        self._wake.set()

    def pending(self) -> int:
        """Acks waiting or unconfirmed."""
        with self._lock:
            return len(self._waiting) + len(self._in_flight)

    def close(self, timeout: float = 5.0) -> None:
        """Hand what is waiting to paho (best effort within `timeout`), then stop the thread."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._pump()
            with self._lock:
                if not self._waiting:
                    break
            time.sleep(0.05)
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._pump()
            except Exception:  # never let the ack thread die
                _LOGGER.exception("publishing acks failed")

    def _pump(self) -> None:
        now = time.monotonic()
        with self._lock:
            while self._confirmed:
                self._release(self._confirmed.popleft())
            for mid in [
                m for m, (_d, _s, t) in self._in_flight.items() if now - t > self._expire_after_s
            ]:
                # Not confirmed in time (e.g. the session was lost): let a newer ack through.
                self._release(mid)
            if not self._waiting or len(self._in_flight) >= self._max_in_flight:
                return
            for device in [d for d in self._waiting if d not in self._busy]:
                if len(self._in_flight) >= self._max_in_flight:
                    return
                seq = self._waiting.pop(device)
                info = self._client.publish(
                    acks_topic(device), ack_payload(device, seq), qos=self._qos, retain=True
                )
                if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                    # Refused (no message id free): try again on the next wake-up.
                    self._waiting[device] = max(seq, self._waiting.get(device, seq))
                    return
                # Sent, or kept by paho for the next connection (MQTT_ERR_NO_CONN).
                self.published += 1
                if self._qos > 0:
                    self._in_flight[info.mid] = (device, seq, now)
                    self._busy[device] = seq

    def _release(self, mid: int) -> None:
        entry = self._in_flight.pop(mid, None)
        if entry is not None and self._busy.get(entry[0]) == entry[1]:
            del self._busy[entry[0]]
