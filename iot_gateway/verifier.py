"""Verify batches of raw messages (JSON, digest, signature recovery) off paho's network thread.

The CPU work runs in worker processes (spawned, so the gateway's threads are never forked) fed
whole batches over a pipe; with no workers it runs inline on the calling thread. A worker
that dies costs nothing but time: its batch is verified inline and the worker replaced.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from core.eip712 import Domain
from iot_gateway.payload import (
    BacklogCheck,
    DeviceLookup,
    DeviceStatus,
    PayloadLimits,
    PayloadRejected,
    RejectReason,
    UnverifiedReading,
    authenticate,
    authenticate_recovered,
    no_backlog,
)
from iot_gateway.pipeline import Inbound
from iot_gateway.verify_worker import Job, Verdict, serve, verify_jobs

_LOGGER = logging.getLogger(__name__)


class _Worker:
    """One verifier process and the parent's end of its pipe."""

    def __init__(self, index: int, domain: Domain, limits: PayloadLimits) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(
            target=serve,
            args=(child, domain, limits),
            name=f"gateway-verifier-{index}",
            daemon=True,
        )
        self.process.start()
        # Only the child holds its end now: the child sees EOF as soon as the gateway dies.
        child.close()

    def close(self) -> None:
        self.conn.close()
        self.process.join(2.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)


class PendingBatch:
    """A batch sent for verification; result() gives its messages with their verdicts."""

    def __init__(
        self,
        batch: list[Inbound],
        jobs: list[Job],
        worker: _Worker | None,
        finish: Callable[[list[Inbound], list[Job], _Worker | None], list[Inbound]],
    ) -> None:
        self.batch = batch
        self._jobs = jobs
        self._worker = worker
        self._finish = finish

    def result(self) -> list[Inbound]:
        """Wait for the verdicts (in submission order per worker) and classify the batch."""
        return self._finish(self.batch, self._jobs, self._worker)


class Verifier:
    """Round-robin batches over `processes` verifier processes (0: verify inline)."""

    def __init__(
        self,
        domain: Domain,
        limits: PayloadLimits,
        lookup: DeviceLookup,
        now_ms: Callable[[], int],
        *,
        processes: int,
        backlog: BacklogCheck = no_backlog,
    ) -> None:
        self.domain = domain
        self.limits = limits
        self._lookup = lookup
        self._backlog = backlog
        self._now_ms = now_ms
        self._processes = processes
        self._workers: list[_Worker] = []
        self._next = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Spawn the worker processes (they import in the background)."""
        with self._lock:
            while len(self._workers) < self._processes:
                self._workers.append(_Worker(len(self._workers), self.domain, self.limits))

    def close(self) -> None:
        """Stop the worker processes."""
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()

    def submit(self, batch: list[Inbound]) -> PendingBatch:
        """Send a batch's unclassified messages for verification (blocks while the pipe is full)."""
        jobs: list[Job] = []
        for item in batch:
            if item.outcome_known:
                continue
            # No ECDSA for senders the registry does not list as active (cheap to refuse).
            device = item.topic_device
            recover = device is not None and self._lookup(device) is DeviceStatus.ACTIVE
            jobs.append((item.topic, item.raw, recover))
        worker = self._pick()
        if worker is not None and jobs:
            try:
                worker.conn.send((self._now_ms(), jobs))
            except (OSError, ValueError) as exc:
                self._replace(worker, exc)
                worker = None
        return PendingBatch(batch, jobs, worker if jobs else None, self._finish)

    def _pick(self) -> _Worker | None:
        with self._lock:
            if not self._workers:
                return None
            worker = self._workers[self._next % len(self._workers)]
            self._next += 1
            return worker

    def _replace(self, worker: _Worker, exc: BaseException) -> None:
        _LOGGER.error("verifier %s failed (%r); verifying inline, restarting it", worker, exc)
        with self._lock:
            if worker not in self._workers:
                return
            index = self._workers.index(worker)
            try:
                self._workers[index] = _Worker(index, self.domain, self.limits)
            except Exception:
                _LOGGER.exception("could not restart a verifier process")
                del self._workers[index]
        worker.close()

    def _finish(
        self, batch: list[Inbound], jobs: list[Job], worker: _Worker | None
    ) -> list[Inbound]:
        verdicts: list[Verdict] | None = None
        if worker is not None:
            try:
                verdicts = worker.conn.recv()
            except (EOFError, OSError) as exc:
                self._replace(worker, exc)
        if verdicts is None or len(verdicts) != len(jobs):
            verdicts = verify_jobs(jobs, self.domain, self.limits, self._now_ms())
        out: list[Inbound] = []
        pending = iter(verdicts)
        for item in batch:
            out.append(item if item.outcome_known else self._classify(item, next(pending)))
        return out

    def _classify(self, item: Inbound, verdict: Verdict) -> Inbound:
        if isinstance(verdict[0], str):
            reason, detail, device, seq = verdict
            reject = PayloadRejected(RejectReason(reason), str(detail), device=device, seq=seq)
            return item.with_outcome(reject=reject)
        candidate, signer, error = verdict
        assert isinstance(candidate, UnverifiedReading)
        status = self._lookup(candidate.topic_device)
        if status is DeviceStatus.UNKNOWN:
            # Maybe registered since the last reload: the writer reloads (rate-limited).
            return item.with_unknown(candidate)
        try:
            if status is DeviceStatus.ACTIVE and (signer is not None or error is not None):
                reading = authenticate_recovered(candidate, signer, error)
            else:
                # Revoked (its backlog is checked by signed takenAtMs, then the signature), or
                # became active after the job was sent: the plain path decides.
                reading = authenticate(candidate, self._lookup, self._backlog)
        except PayloadRejected as exc:
            return item.with_outcome(reject=exc)
        return item.with_outcome(reading=reading)
