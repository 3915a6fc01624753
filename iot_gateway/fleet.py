"""A fleet of simulated devices publishing at a steady rate, optionally with an excursion."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from core.eip712 import Domain
from iot_gateway.device import DeviceClient, SimulatedDevice
from iot_gateway.mqtt import MqttEndpoint, ProtocolName


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
    """N devices, one MQTT connection each; run() publishes on a fixed schedule."""

    def __init__(
        self,
        keys: Sequence[bytes],
        domain: Domain,
        endpoint: MqttEndpoint,
        *,
        protocol: ProtocolName = "5",
        profile: SensorProfile | None = None,
        noise_seed: int = 0,
    ) -> None:
        self.profile = profile or SensorProfile()
        self.clients = [
            DeviceClient(SimulatedDevice(key, domain), endpoint, protocol=protocol) for key in keys
        ]
        self._random = random.Random(noise_seed)
        self.published = 0

    @property
    def addresses(self) -> list[str]:
        """The devices' checksummed addresses, in key order."""
        return [client.device.address for client in self.clients]

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

    def wait_acked(self, timeout: float) -> bool:
        """Block until the gateway acked every device's last reading (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        for client in self.clients:
            last = client.device.next_seq - 1
            if last >= 0 and not client.wait_acked(last, max(0.0, deadline - time.monotonic())):
                return False
        return True

    def close(self) -> None:
        """Disconnect every device."""
        for client in self.clients:
            client.close()
