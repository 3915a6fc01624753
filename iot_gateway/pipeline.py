"""The writer side of the gateway: batches from the inbox, one transaction each, then acks.

Every message ends in exactly one place, committed before its MQTT ack: a stored reading, a
duplicate (already stored), or a dead letter with its reason (rejects and equivocations).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from device.mqtt_link import READINGS_PREFIX
from iot_gateway.metrics import GatewayMetrics
from iot_gateway.payload import (
    PayloadRejected,
    RejectReason,
    SignedReading,
    UnverifiedReading,
    authenticate,
)
from iot_gateway.registry import DeviceRegistry
from iot_gateway.settings import GatewaySettings
from iot_gateway.writer import BatchResult, write_batch
from store.db import transaction
from store.dead_letters import MAX_PAYLOAD_BYTES, NewDeadLetter, add_dead_letters
from store.errors import StoreValueError

_LOGGER = logging.getLogger(__name__)
_RETRY_MAX_S = 30.0
_PIPELINE_DEPTH = 2


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message waiting for the writer: what to store, dead-letter, and ack."""

    mid: int
    qos: int
    generation: int
    topic: str
    # The first MAX_PAYLOAD_BYTES of the message, for a dead letter.
    payload: bytes = b""
    received: float = 0.0  # time.monotonic() when paho handed it over
    reading: SignedReading | None = None
    # Well-formed, from a device the cache did not know: re-checked after a registry reload.
    unknown: UnverifiedReading | None = None
    reject: PayloadRejected | None = None
    # The whole payload, until a verifier has classified the message (then dropped).
    raw: bytes = b""
    # The whole payload's size in bytes (a dead letter keeps it beside the capped payload).
    size: int = 0

    @property
    def outcome_known(self) -> bool:
        """True once the message is a reading, a reject, or a reading of an unknown device."""
        return self.reading is not None or self.reject is not None or self.unknown is not None

    @property
    def topic_device(self) -> str | None:
        """The device the topic names (unchecked), or None for a foreign topic."""
        topic = self.topic
        return topic[len(READINGS_PREFIX) :] if topic.startswith(READINGS_PREFIX) else None

    def with_unknown(self, candidate: UnverifiedReading) -> Inbound:
        """The same message, well-formed, from a device the registry cache does not list."""
        return replace(self, reading=None, reject=None, unknown=candidate, raw=b"")

    def with_outcome(
        self, reading: SignedReading | None = None, reject: PayloadRejected | None = None
    ) -> Inbound:
        """The same message with its verdict (the raw payload dropped)."""
        return replace(self, reading=reading, reject=reject, unknown=None, raw=b"")


class Pending(Protocol):
    """A batch on its way through verification."""

    def result(self) -> list[Inbound]:
        """The batch's messages, each with its verdict."""
        ...


class _Classified:
    """A batch whose messages already carry their verdicts."""

    def __init__(self, batch: list[Inbound]) -> None:
        self._batch = batch

    def result(self) -> list[Inbound]:
        return self._batch


def cap_payload(payload: bytes) -> bytes:
    """What an Inbound keeps of a payload (a dead letter holds no more)."""
    return payload[:MAX_PAYLOAD_BYTES]


def dead_letter(item: Inbound, reason: RejectReason, detail: str) -> NewDeadLetter:
    """The dead-letter row for a message."""
    reject = item.reject
    device = reject.device if reject is not None else None
    seq = reject.seq if reject is not None else None
    if item.reading is not None:
        device, seq = item.reading.device, item.reading.reading.seq
    return NewDeadLetter(
        item.topic, item.payload, reason.value, detail, device, seq, payload_size=item.size
    )


class BatchWriter:
    """Takes batches from the inbox, stores them in one transaction, then acks every message.

    Two loops, one thread each: run_batcher() takes batches from the inbox and submits them for
    verification (`submit`; default: messages arrive already classified), run() stores the
    verified batches in order, so verifying batch n+1 overlaps storing batch n.
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
        submit: Callable[[list[Inbound]], Pending] = _Classified,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.registry = registry
        self.metrics = metrics
        self._inbox = inbox
        self._stopping = stopping
        self._ack = ack
        self._publish_ack = publish_ack
        self._submit = submit
        # Batches being verified, in inbox order; None ends the writer. Small: bounded memory.
        self._verified: queue.Queue[Pending | None] = queue.Queue(maxsize=_PIPELINE_DEPTH)

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

    def run_batcher(self) -> None:
        """Submit batches for verification until stopping and the inbox is empty; end run()."""
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopping.is_set():
                    self._verified.put(None)
                    return
                continue
            try:
                pending = self._submit(batch)
            except Exception:
                _LOGGER.exception("verifying a batch of %d failed; left unacknowledged", len(batch))
                continue
            # Blocks while the writer is behind: the inbox fills, then paho stops reading.
            self._verified.put(pending)

    def run(self) -> None:
        """Write verified batches, in order, until run_batcher() ends."""
        while True:
            pending = self._verified.get()
            if pending is None:
                return
            try:
                self.process(pending.result())
            except Exception:
                _LOGGER.exception("writer failed on a batch; left unacknowledged")

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
                reading = authenticate(
                    item.unknown, self.registry.status, self.registry.accepts_backlog
                )
            except PayloadRejected as exc:
                out.append(item.with_outcome(reject=exc))
            else:
                out.append(item.with_outcome(reading=reading))
        return out

    def process(self, batch: list[Inbound]) -> None:
        """Store a batch's readings and dead letters, then ack its messages (none on failure)."""
        resolved = self._resolve_unknown(batch)
        if resolved is None:
            return  # stopping while the database was unavailable: the broker redelivers
        batch = resolved
        result = self.commit(batch)
        if result is None:
            return  # stopping while the database was unavailable: the broker redelivers
        self._ack(batch)
        now = time.monotonic()
        for item in batch:
            if item.received:
                self.metrics.ack_latency.observe(now - item.received)
        self._account(batch, result)

    def commit(self, batch: Sequence[Inbound]) -> BatchResult | None:
        """One transaction, retried while the database fails; None if stopped meanwhile."""
        delay = 0.5
        while True:
            try:
                with transaction(self.sessions) as session:
                    return self._write(session, batch)
            except StoreValueError as exc:
                # The data, not the database: retrying the same batch would fail forever.
                self.metrics.write_errors.inc()
                return self._commit_one_by_one(batch, exc)
            except Exception as exc:
                self.metrics.write_errors.inc()
                _LOGGER.error("storing a batch of %d failed (%s); retrying", len(batch), exc)
            if self._stopping.wait(delay):
                return None
            delay = min(delay * 2, _RETRY_MAX_S)

    def _write(self, session: Session, batch: Sequence[Inbound]) -> BatchResult:
        readings = [item.reading for item in batch if item.reading is not None]
        result = write_batch(session, readings) if readings else BatchResult(0, 0, [], {})
        letters = [
            dead_letter(item, item.reject.reason, item.reject.detail)
            for item in batch
            if item.reject is not None
        ]
        letters += self._equivocation_letters(batch, result)
        add_dead_letters(session, letters)
        return result

    @staticmethod
    def _equivocation_letters(batch: Sequence[Inbound], result: BatchResult) -> list[NewDeadLetter]:
        if not result.conflicts:
            return []
        by_key = {
            (item.reading.device, item.reading.reading.seq, item.reading.digest): item
            for item in batch
            if item.reading is not None
        }
        letters = []
        for conflict in result.conflicts:
            key = (conflict.device_address.lower(), conflict.seq, conflict.new_digest)
            detail = (
                f"seq {conflict.seq} stored with digest 0x{conflict.stored_digest.hex()}, "
                f"this one signs 0x{conflict.new_digest.hex()}"
            )
            item = by_key.get(key)
            if item is not None:
                letters.append(dead_letter(item, RejectReason.EQUIVOCATION, detail))
        return letters

    def _commit_one_by_one(
        self, batch: Sequence[Inbound], exc: StoreValueError
    ) -> BatchResult | None:
        if len(batch) == 1:
            (item,) = batch
            if item.reading is None:
                # Only a dead letter itself can get here: a bug, not data; never loop on it.
                _LOGGER.error("the store refuses a dead letter for %s: %s", item.topic, exc)
                return BatchResult(0, 0, [], {})
            _LOGGER.error("dead-lettering a reading the store refuses (%s): %s", item.topic, exc)
            reject = PayloadRejected(
                RejectReason.STORE_REFUSED,
                str(exc)[:500],
                device=item.reading.device,
                seq=item.reading.reading.seq,
            )
            return self.commit([item.with_outcome(reject=reject)])
        results = [self.commit([item]) for item in batch]
        if any(result is None for result in results):
            return None
        done = [result for result in results if result is not None]
        return BatchResult(
            sum(r.inserted for r in done),
            sum(r.duplicates for r in done),
            [c for r in done for c in r.conflicts],
            {device: seq for r in done for device, seq in r.acked_seq.items()},
        )

    def _account(self, batch: Sequence[Inbound], result: BatchResult) -> None:
        self.metrics.batches.inc()
        self.metrics.accepted.inc(result.inserted)
        self.metrics.duplicates.inc(result.duplicates)
        for item in batch:
            if item.reject is not None:
                self.metrics.rejected.labels(reason=item.reject.reason.value).inc()
                _LOGGER.warning("rejected message on %s: %s", item.topic[:200], item.reject)
        for conflict in result.conflicts:
            self.metrics.equivocations.inc()
            self.metrics.rejected.labels(reason=RejectReason.EQUIVOCATION.value).inc()
            # An alert, not a warning: a device key signed two readings under one seq.
            _LOGGER.error(
                "EQUIVOCATION: device %s signed two readings with seq %d (stored 0x%s, new 0x%s);"
                " kept the first, dead-lettered the second",
                conflict.device_address,
                conflict.seq,
                conflict.stored_digest.hex(),
                conflict.new_digest.hex(),
            )
        for device, seq in result.acked_seq.items():
            self._publish_ack(device, seq)
