"""MQTT topics, broker URLs and paho-mqtt 2 client construction shared by gateway and devices."""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

READINGS_PREFIX = "chaintrace/v1/readings/"
READINGS_FILTER = READINGS_PREFIX + "+"
ACKS_PREFIX = "chaintrace/v1/acks/"

ProtocolName = Literal["5", "3.1.1"]

_LOGGER = logging.getLogger(__name__)


class MqttUrlError(ValueError):
    """An MQTT URL the gateway cannot use."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """A broker address with optional credentials; tls for mqtts://."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        # Never print the password (logs, tracebacks).
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username is not None else ""
        return f"MqttEndpoint({scheme}://{user}{self.host}:{self.port})"


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse mqtt://[user[:pass]@]host[:port] or mqtts://...; default ports 1883 / 8883."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MqttUrlError(f"invalid MQTT URL: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise MqttUrlError("MQTT URL scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise MqttUrlError("MQTT URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MqttUrlError("MQTT URL must not have a path, query or fragment")
    tls = parts.scheme in ("mqtts", "ssl")
    return MqttEndpoint(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def readings_topic(device: str) -> str:
    """The topic a device publishes its readings to (lowercase 0x address)."""
    return READINGS_PREFIX + device.lower()


def acks_topic(device: str) -> str:
    """The topic the gateway publishes a device's acks to."""
    return ACKS_PREFIX + device.lower()


def subscription_filter(protocol: ProtocolName, shared_group: str | None) -> str:
    """The readings filter, as a shared subscription when a group is set (MQTT 5 only)."""
    if shared_group is None:
        return READINGS_FILTER
    if protocol != "5":
        raise ValueError("shared subscriptions need MQTT 5")
    return f"$share/{shared_group}/{READINGS_FILTER}"


def make_client(
    endpoint: MqttEndpoint,
    client_id: str,
    protocol: ProtocolName,
    *,
    persistent_session: bool = False,
    manual_ack: bool = False,
    ca_file: str | None = None,
) -> mqtt.Client:
    """A paho-mqtt 2 client (VERSION2 callbacks) with credentials and TLS from the endpoint."""
    if protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not persistent_session,
            manual_ack=manual_ack,
        )
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int) -> Properties:
    """MQTT 5 CONNECT properties: keep the session, and widen the in-flight window."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = receive_maximum
    return props


def ack_payload(device: str, seq: int) -> bytes:
    """The ack a device reads: {"device", "ackedSeq"} (compact JSON)."""
    return json.dumps({"device": device, "ackedSeq": seq}, separators=(",", ":")).encode()


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
