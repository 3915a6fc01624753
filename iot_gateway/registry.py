"""In-memory cache of the device registry (devices table), refreshed periodically and on misses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from iot_gateway.payload import DeviceStatus
from store.models import Device

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """What the gateway needs to know about one registered device."""

    device_id: int
    address: str
    owner_principal_id: int
    # When the device was revoked, in ms since the epoch (floored); None while it is active.
    revoked_at_ms: int | None

    @property
    def revoked(self) -> bool:
        """True once the device is revoked."""
        return self.revoked_at_ms is not None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class DeviceRegistry:
    """Thread-safe lookups by lowercase address; reload() swaps the whole map at once."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        refresh_s: float = 30.0,
        miss_reload_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        revoked_backlog_s: float = 86_400.0,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self._factory = factory
        self._revoked_backlog_ms = int(revoked_backlog_s * 1000)
        self._wall_ms = wall_ms
        self._refresh_s = refresh_s
        self._miss_reload_s = miss_reload_s
        self._clock = clock
        self._entries: dict[str, DeviceEntry] = {}
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._last_miss_reload: float | None = None
        self.reloads = 0

    def status(self, address: str) -> DeviceStatus:
        """ACTIVE, REVOKED or UNKNOWN from the cache (no I/O: safe on the MQTT thread)."""
        entry = self._entries.get(address.lower())
        if entry is None:
            return DeviceStatus.UNKNOWN
        return DeviceStatus.REVOKED if entry.revoked else DeviceStatus.ACTIVE

    def accepts_backlog(self, address: str, taken_at_ms: int) -> bool:
        """True for a revoked device's reading still accepted as backlog (no I/O).

        Revoking never removes readings taken before it (DESIGN), so a reading signed with a
        takenAtMs before the revocation is accepted; but a revoked key is presumed stolen and a
        thief can sign any takenAtMs, so the backlog is accepted only while it arrives within
        the grace period (GATEWAY_REVOKED_BACKLOG_S) after the revocation.
        """
        entry = self._entries.get(address.lower())
        if entry is None or entry.revoked_at_ms is None:
            return False
        revoked_at_ms = entry.revoked_at_ms
        return taken_at_ms < revoked_at_ms and (
            self._wall_ms() < revoked_at_ms + self._revoked_backlog_ms
        )

    def get(self, address: str) -> DeviceEntry | None:
        """The cached entry for an address, or None."""
        return self._entries.get(address.lower())

    def __len__(self) -> int:
        return len(self._entries)

    def reload(self) -> None:
        """Read every device from the database and replace the cache."""
        with self._factory() as session:
            rows = session.execute(
                select(Device.id, Device.address, Device.owner_principal_id, Device.revoked_at)
            ).all()
        entries = {
            address.lower(): DeviceEntry(
                device_id, address, owner, None if revoked_at is None else _epoch_ms(revoked_at)
            )
            for device_id, address, owner, revoked_at in rows
        }
        with self._lock:
            self._entries = entries
            self._loaded_at = self._clock()
            self.reloads += 1
        _LOGGER.debug("device registry reloaded: %d devices", len(entries))

    def refresh_if_due(self) -> bool:
        """Reload when the periodic refresh interval has passed; True if it reloaded."""
        loaded_at = self._loaded_at
        if loaded_at is not None and self._clock() - loaded_at < self._refresh_s:
            return False
        self.reload()
        return True

    def reload_for_miss(self) -> bool:
        """Reload after an unknown device, at most once per miss interval; True if it reloaded.

        The rate limit keeps a flood of readings from unregistered addresses from turning into
        a flood of database queries.
        """
        now = self._clock()
        with self._lock:
            last = self._last_miss_reload
            if last is not None and now - last < self._miss_reload_s:
                return False
            self._last_miss_reload = now
        try:
            self.reload()
        except Exception:
            with self._lock:
                self._last_miss_reload = last  # a failed reload does not use up the allowance
            raise
        return True
