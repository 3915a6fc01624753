"""A fleet of simulated devices publishing at a steady rate, optionally with an excursion."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from core.eip712 import Domain
from device.client import DeviceClient, SimulatedDevice
from device.mqtt_link import MqttEndpoint, ProtocolName


@dataclass(frozen=True, slots=True)
class Excursion:
    """Add `delta_centi_c` to the devices listed (all if None) from `start_s` for `duration_s`."""

    start_s: float
    duration_s: float
    delta_centi_c: int
    devices: frozenset[int] | None = None

    def applies(self, device_index: int, elapsed_s: float) -> bool:
        """Whether the excursion is on for this device at this time."""
        in_time = self.start_s <= elapsed_s < self.start_s + self.duration_s
        return in_time and (self.devices is None or device_index in self.devices)


@dataclass(frozen=True, slots=True)
class SensorProfile:
    """What the simulated sensors read: a base temperature with noise, fixed humidity and place."""

    base_centi_c: int = 400
    noise_centi_c: int = 20
    humidity_centi_pct: int = 6000
    lat_e7: int = 523_456_789
    lon_e7: int = 134_567_890
    excursion: Excursion | None = None


def fleet_keys(seed: str, count: int) -> list[bytes]:
    """Deterministic device keys (sha256 of seed:index), so a fleet can be registered up front."""
    return [hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(count)]


class Fleet:
    """N devices, one MQTT connection each; run() publishes on a fixed schedule.

    Store-and-forward: a reading the gateway has not acked within `resend_after_s` is sent
    again (and again), so messages a broker drops are not lost. With `state_dir`, each
    device keeps its next seq in `<address>.json` there, so restarts never reuse a seq.
    """

    def __init__(
        self,
        keys: Sequence[bytes],
        domain: Domain,
        endpoint: MqttEndpoint,
        *,
        protocol: ProtocolName = "5",
        profile: SensorProfile | None = None,
        noise_seed: int = 0,
        resend_after_s: float = 10.0,
        state_dir: Path | None = None,
    ) -> None:
        if resend_after_s <= 0:
            raise ValueError("resend_after_s must be positive")
        self.profile = profile or SensorProfile()
        self.resend_after_s = resend_after_s
        self.resent = 0
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
        self.clients = [
            DeviceClient(
                SimulatedDevice(key, domain, state_file=_state_file(state_dir, key)),
                endpoint,
                protocol=protocol,
            )
            for key in keys
        ]
        self._random = random.Random(noise_seed)
        self.published = 0

    @property
    def addresses(self) -> list[str]:
        """The devices' checksummed addresses, in key order."""
        return [client.device.address for client in self.clients]

    @property
    def ignored_acks(self) -> int:
        """Ack messages the devices ignored (malformed, or beyond the highest seq they sent)."""
        return sum(client.device.ignored_acks for client in self.clients)

    def connect(self, timeout: float = 10.0) -> None:
        """Connect every device."""
        for client in self.clients:
            client.connect(timeout)

    def temperature(self, device_index: int, elapsed_s: float) -> int:
        """The reading a device takes `elapsed_s` into the run, in centi-degC."""
        p = self.profile
        value = p.base_centi_c + self._random.randint(-p.noise_centi_c, p.noise_centi_c)
        if p.excursion is not None and p.excursion.applies(device_index, elapsed_s):
            value += p.excursion.delta_centi_c
        return value

    def run(
        self, rate_hz: float, readings_per_device: int | None, stop: threading.Event | None = None
    ) -> int:
        """Publish one reading per device per 1/rate_hz seconds; returns how many were sent."""
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        stop = stop or threading.Event()
        started = time.monotonic()
        tick = 0
        while readings_per_device is None or tick < readings_per_device:
            due = started + tick / rate_hz
            if stop.wait(max(0.0, due - time.monotonic())):
                break
            elapsed = time.monotonic() - started
            self.resend_due()
            for index, client in enumerate(self.clients):
                p = self.profile
                client.publish_reading(
                    temperature_centi_c=self.temperature(index, elapsed),
                    humidity_centi_pct=p.humidity_centi_pct,
                    lat_e7=p.lat_e7,
                    lon_e7=p.lon_e7,
                )
                self.published += 1
            tick += 1
        return self.published

    def resend_due(self) -> int:
        """Resend every reading unacked for resend_after_s; returns how many."""
        count = sum(client.resend_due(self.resend_after_s) for client in self.clients)
        self.resent += count
        return count

    def wait_acked(self, timeout: float) -> bool:
        """Resend as due until the gateway acked every device's last reading (or timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = [client for client in self.clients if client.device.unacked()]
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.resend_due()
            # One snapshot: an ack may empty the list between two calls (the ack thread runs).
            unacked = pending[0].device.unacked()
            if unacked:
                pending[0].wait_acked(unacked[-1][0], min(remaining, 0.5))

    def close(self) -> None:
        """Disconnect every device."""
        for client in self.clients:
            client.close()


def _state_file(state_dir: Path | None, key: bytes) -> Path | None:
    if state_dir is None:
        return None
    return state_dir / f"{Account.from_key(key).address.lower()}.json"
