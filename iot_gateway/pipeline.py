"""The writer side of the gateway: batches from the inbox, one transaction each, then acks."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from iot_gateway.metrics import GatewayMetrics
from iot_gateway.payload import PayloadRejected, SignedReading, UnverifiedReading, authenticate
from iot_gateway.registry import DeviceRegistry
from iot_gateway.settings import GatewaySettings
from iot_gateway.writer import BatchResult, write_batch
from store.db import transaction
from store.errors import StoreValueError

_LOGGER = logging.getLogger(__name__)
_RETRY_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message waiting for the writer: what to store (if anything) and what to ack."""

    mid: int
    qos: int
    generation: int
    topic: str
    reading: SignedReading | None = None
    # Well-formed, from a device the cache did not know: re-checked after a registry reload.
    unknown: UnverifiedReading | None = None


def count_reject(metrics: GatewayMetrics, topic: str, exc: PayloadRejected) -> None:
    """Count and log one rejected message (with its topic)."""
    metrics.rejected.labels(reason=exc.reason.value).inc()
    _LOGGER.warning("rejected message on %s: %s", topic[:200], exc)


class BatchWriter:
    """Takes batches from the inbox, stores them in one transaction, then acks every message.

    `ack(items)` acknowledges MQTT messages (the gateway drops those of an older connection);
    `publish_ack(device, seq)` tells a device its highest contiguous stored seq.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        sessions: sessionmaker[Session],
        registry: DeviceRegistry,
        metrics: GatewayMetrics,
        inbox: queue.Queue[Inbound],
        stopping: threading.Event,
        *,
        ack: Callable[[Sequence[Inbound]], None],
        publish_ack: Callable[[str, int], None],
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.registry = registry
        self.metrics = metrics
        self._inbox = inbox
        self._stopping = stopping
        self._ack = ack
        self._publish_ack = publish_ack

    def _take_batch(self) -> list[Inbound]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.flush_interval_s
        while len(batch) < self.settings.batch_size:
            try:
                batch.append(self._inbox.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def run(self) -> None:
        """Write batches until stopping and the inbox is empty."""
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            try:
                self.process(batch)
            except Exception:
                _LOGGER.exception("writer failed on a batch of %d; left unacknowledged", len(batch))

    def _resolve_unknown(self, batch: list[Inbound]) -> list[Inbound] | None:
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
                count_reject(self.metrics, item.topic, exc)
                out.append(Inbound(item.mid, item.qos, item.generation, item.topic))
            else:
                out.append(Inbound(item.mid, item.qos, item.generation, item.topic, reading))
        return out

    def process(self, batch: list[Inbound]) -> None:
        """Store a batch's readings, then ack its messages (none if it could not be stored)."""
        resolved = self._resolve_unknown(batch)
        if resolved is None:
            return  # stopping while the database was unavailable: the broker redelivers
        batch = resolved
        readings = [item.reading for item in batch if item.reading is not None]
        result = self.commit(readings) if readings else None
        if readings and result is None:
            return  # stopping while the database was unavailable: the broker redelivers
        self._ack(batch)
        if result is not None:
            self._account(result)

    def commit(self, readings: list[SignedReading]) -> BatchResult | None:
        """One transaction, retried while the database fails; None if stopped meanwhile."""
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
        results = [self.commit([reading]) for reading in readings]
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
            self._publish_ack(device, seq)
