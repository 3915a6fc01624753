"""Counting scans without a write per scan: each resolver answer for a known item adds one to a
per-process buffer of (item, UTC day) -> scans; a background thread adds the buffer to the
store every SCAN_FLUSH_SECONDS in one transaction (an additive upsert, so several API processes
sum), and once more when the app shuts down.

Bounds: the buffer holds at most SCAN_BUFFER_MAX distinct (item, day) keys (a scan of a new key
beyond it is dropped and counted in /metrics, and wakes the flusher early). What a crash loses:
the scans since the last flush, i.e. at most SCAN_FLUSH_SECONDS' worth. A failed flush keeps its
counts in the buffer (within the bound) for the next one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from fastapi import Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store import transaction
from store.models.types import utcnow
from store.scan_counts import ScanKey, add_scans

_LOGGER = logging.getLogger(__name__)

# Rows per upsert statement (3 bound parameters each: far under SQLite's and asyncpg's limits).
FLUSH_CHUNK = 2_000


class ScanCounter:
    """One process's scan buffer and the thread that flushes it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        enabled: bool,
        flush_seconds: float,
        max_keys: int,
    ) -> None:
        self.enabled = enabled
        self._sessions = sessions
        self._flush_seconds = flush_seconds
        self._max_keys = max_keys
        self._pending: dict[ScanKey, int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushed = 0  # scans written to the store
        self.dropped = 0  # scans lost to the buffer's bound
        self.flush_errors = 0

    def count(self, item_id: int, now: datetime | None = None) -> None:
        """One scan of the item now (UTC day); O(1), never touches the store."""
        if not self.enabled:
            return
        key = (item_id, (now or utcnow()).date())
        with self._lock:
            if key in self._pending:
                self._pending[key] += 1
                return
            if len(self._pending) >= self._max_keys:
                self.dropped += 1
                self._wake.set()
                return
            self._pending[key] = 1
            if len(self._pending) * 2 >= self._max_keys:
                self._wake.set()  # half full: flush now rather than at the interval

    @property
    def pending(self) -> int:
        """Scans counted and not yet in the store."""
        with self._lock:
            return sum(self._pending.values())

    def flush(self) -> int:
        """Add the buffer to the store in one transaction; the scans written (0 on failure,
        when the buffer takes the counts back for the next flush)."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            try:
                with transaction(self._sessions) as session:
                    items = iter(batch.items())
                    while chunk := dict(islice(items, FLUSH_CHUNK)):
                        add_scans(session, chunk)
            except SQLAlchemyError as exc:
                self._take_back(batch)
                _LOGGER.warning("scan counts not stored (kept for the next flush): %s", exc)
                return 0
            written = sum(batch.values())
            with self._lock:
                self.flushed += written
            return written

    def _take_back(self, batch: dict[ScanKey, int]) -> None:
        with self._lock:
            self.flush_errors += 1
            for key, scans in batch.items():
                if key in self._pending:
                    self._pending[key] += scans
                elif len(self._pending) < self._max_keys:
                    self._pending[key] = scans
                else:
                    self.dropped += scans

    def start(self) -> None:
        """Start the flushing thread (nothing to do when counting is off)."""
        if not self.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="scan-counts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                _LOGGER.exception("scan counts: flush failed")

    def close(self) -> None:
        """Stop the thread and flush what is left (the app's shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()


def scans_of(request: Request) -> ScanCounter:
    """The app's ScanCounter (create_app puts it in app.state.chaintrace)."""
    counter: ScanCounter = request.app.state.chaintrace.scans
    return counter


class ScanCounterCollector(Collector):
    """For /metrics: scans stored, dropped at the bound, waiting; failed flushes."""

    def __init__(self, counter: ScanCounter) -> None:
        self._counter = counter

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = self._counter
        yield CounterMetricFamily(
            "chaintrace_scans_stored", "Scans added to the store's counts", value=c.flushed
        )
        yield CounterMetricFamily(
            "chaintrace_scans_dropped", "Scans not counted: the buffer was full", value=c.dropped
        )
        yield CounterMetricFamily(
            "chaintrace_scan_flush_errors",
            "Failed flushes of the scan buffer",
            value=c.flush_errors,
        )
        yield GaugeMetricFamily(
            "chaintrace_scans_pending", "Scans counted, not yet stored", value=c.pending
        )
