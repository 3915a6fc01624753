"""Device side: build and sign Readings (what firmware does) and publish them over MQTT."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from eth_account import Account

from core.eip712 import Domain, Reading, sign
from core.hexstr import hex0x
from core.json_bounds import check_json_bounds
from device.mqtt_link import MqttEndpoint, ProtocolName, acks_topic, make_client, readings_topic

_LOGGER = logging.getLogger(__name__)
# {"device":"0x...","ackedSeq":N} is under 100 bytes; anything much larger is not an ack.
_MAX_ACK_BYTES = 1024


def reading_payload(reading: Reading, signature: bytes) -> bytes:
    """The JSON a device publishes: the Reading fields by their EIP-712 names plus signature."""
    body = {**reading.to_json(), "signature": hex0x(signature)}
    body["device"] = body["device"].lower()
    return json.dumps(body, separators=(",", ":")).encode()


def load_next_seq(path: Path) -> int | None:
    """The next seq saved in a device state file, or None if there is none (or it is unusable)."""
    try:
        value = json.loads(path.read_text())["nextSeq"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def save_next_seq(path: Path, next_seq: int) -> None:
    """Write the next seq atomically (temp file + rename), so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"nextSeq": next_seq}))
    os.replace(tmp, path)


class SimulatedDevice:
    """A device key that numbers, signs and remembers its readings until the gateway acks them.

    With a `state_file`, the next seq is saved before each reading is handed out, so a
    restarted simulator never reuses a seq (which the gateway would treat as equivocation).
    """

    def __init__(
        self,
        private_key: bytes | str,
        domain: Domain,
        *,
        start_seq: int = 0,
        clock_ms: Callable[[], int] | None = None,
        state_file: Path | None = None,
    ) -> None:
        self._key = private_key
        self.domain = domain
        self.address: str = Account.from_key(private_key).address
        self.state_file = state_file
        saved = load_next_seq(state_file) if state_file is not None else None
        self.next_seq = max(start_seq, saved) if saved is not None else start_seq
        self.acked_seq: int | None = None
        # Ack messages ignored: malformed, for another device, or beyond the highest seq sent.
        self.ignored_acks = 0
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        # seq -> (payload, monotonic time it was last sent)
        self._unacked: dict[int, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @property
    def topic(self) -> str:
        """The topic this device publishes readings to."""
        return readings_topic(self.address)

    @property
    def ack_topic(self) -> str:
        """The topic the gateway acks this device on."""
        return acks_topic(self.address)

    def make_reading(
        self,
        *,
        temperature_centi_c: int,
        humidity_centi_pct: int = 5000,
        shock_milli_g: int = 0,
        lat_e7: int = 0,
        lon_e7: int = 0,
        taken_at_ms: int | None = None,
    ) -> Reading:
        """The next Reading (seq advances by one, saved first when there is a state file)."""
        with self._lock:
            seq = self.next_seq
            self.next_seq += 1
            if self.state_file is not None:
                save_next_seq(self.state_file, self.next_seq)
        return Reading(
            device=self.address,
            seq=seq,
            taken_at_ms=self._clock_ms() if taken_at_ms is None else taken_at_ms,
            temperature_centi_c=temperature_centi_c,
            humidity_centi_pct=humidity_centi_pct,
            shock_milli_g=shock_milli_g,
            lat_e7=lat_e7,
            lon_e7=lon_e7,
        )

    def sign(self, reading: Reading) -> bytes:
        """The 65-byte EIP-712 signature over the reading."""
        return sign(reading, self.domain, self._key)

    def signed_payload(self, **fields: Any) -> tuple[Reading, bytes]:
        """make_reading(**fields), signed and serialised; kept until acked."""
        reading = self.make_reading(**fields)
        payload = reading_payload(reading, self.sign(reading))
        with self._lock:
            self._unacked[reading.seq] = (payload, time.monotonic())
        return reading, payload

    def handle_ack(self, payload: bytes) -> int | None:
        """Apply an ack message {"device", "ackedSeq"}; returns the acked seq or None if ignored.

        Ignored (and counted in `ignored_acks`): anything malformed, another device's ack, and an
        ack beyond the highest seq this device has handed out. No gateway can have stored a
        reading that was never made, so such an ack is forged (or stale state from another
        key's life) and must not empty the store-and-forward buffer.
        """
        seq = self._ack_seq(payload)
        with self._lock:
            if seq is None or not 0 <= seq < self.next_seq:
                self.ignored_acks += 1
                if seq is not None:
                    _LOGGER.warning(
                        "%s: ignored an ack of seq %d, beyond the highest seq sent (%d)",
                        self.address,
                        seq,
                        self.next_seq - 1,
                    )
                return None
            if self.acked_seq is None or seq > self.acked_seq:
                self.acked_seq = seq
            for pending in [s for s in self._unacked if s <= seq]:
                del self._unacked[pending]
        return seq

    def _ack_seq(self, payload: bytes) -> int | None:
        """The ackedSeq of a well-formed ack addressed to this device, else None."""
        try:
            # Bounded before parsing: an ack is a flat object of two short fields.
            check_json_bounds(payload, max_bytes=_MAX_ACK_BYTES, max_depth=1)
            data = json.loads(payload)
            seq = data["ackedSeq"]
            if str(data["device"]).lower() != self.address.lower():
                return None
        except (ValueError, KeyError, TypeError):
            return None
        if isinstance(seq, bool) or not isinstance(seq, int):
            return None
        return seq

    def unacked(self) -> list[tuple[int, bytes]]:
        """(seq, payload) of readings not acked yet, by seq: what to resend after an outage."""
        with self._lock:
            return [(seq, entry[0]) for seq, entry in sorted(self._unacked.items())]

    def due_for_resend(self, older_than_s: float, limit: int = 1000) -> list[tuple[int, bytes]]:
        """Unacked readings last sent more than `older_than_s` ago (oldest seq first), marked
        as sent now: the store-and-forward retry that survives a broker dropping messages."""
        now = time.monotonic()
        out: list[tuple[int, bytes]] = []
        with self._lock:
            for seq in sorted(self._unacked):
                payload, sent = self._unacked[seq]
                if now - sent >= older_than_s:
                    self._unacked[seq] = (payload, now)
                    out.append((seq, payload))
                    if len(out) >= limit:
                        break
        return out


class DeviceClient:
    """One MQTT connection for one device: publishes readings, listens for its acks."""

    def __init__(
        self,
        device: SimulatedDevice,
        endpoint: MqttEndpoint,
        *,
        protocol: ProtocolName = "5",
        client_id: str | None = None,
    ) -> None:
        self.device = device
        self.client = make_client(
            endpoint, client_id or f"dev-{device.address.lower()[2:14]}", protocol
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._endpoint = endpoint
        self.subscribed = threading.Event()
        self.acked = threading.Condition()

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe(self.device.ack_topic, qos=1)
        # Back after an outage: forward what the gateway has not confirmed yet.
        for _seq, payload in self.device.unacked():
            client.publish(self.device.topic, payload, qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self.device.handle_ack(bytes(msg.payload)) is not None:
            with self.acked:
                self.acked.notify_all()

    def connect(self, timeout: float = 10.0) -> None:
        """Connect and start paho's network thread; raise TimeoutError if the broker is silent."""
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.connect(self._endpoint.host, self._endpoint.port, keepalive=30)
        self.client.loop_start()
        if not self.subscribed.wait(timeout):
            self.close()
            raise TimeoutError(f"no SUBACK from {self._endpoint!r} within {timeout}s")

    def publish(self, payload: bytes, qos: int = 1) -> mqtt.MQTTMessageInfo:
        """Publish raw bytes on the device's readings topic."""
        return self.client.publish(self.device.topic, payload, qos=qos)

    def publish_reading(self, qos: int = 1, **fields: Any) -> tuple[Reading, mqtt.MQTTMessageInfo]:
        """Build, sign and publish the next reading."""
        reading, payload = self.device.signed_payload(**fields)
        return reading, self.publish(payload, qos)

    def resend_unacked(self, qos: int = 1) -> int:
        """Publish every reading the gateway has not acked yet; returns how many."""
        pending = self.device.unacked()
        for _seq, payload in pending:
            self.publish(payload, qos)
        return len(pending)

    def resend_due(self, older_than_s: float, qos: int = 1) -> int:
        """Resend readings unacked for `older_than_s` seconds; returns how many."""
        due = self.device.due_for_resend(older_than_s)
        for _seq, payload in due:
            self.publish(payload, qos)
        return len(due)

    def wait_acked(self, seq: int, timeout: float) -> bool:
        """Block until the gateway acked `seq` (or later), or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self.acked:
            while self.device.acked_seq is None or self.device.acked_seq < seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.acked.wait(remaining)
        return True

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
