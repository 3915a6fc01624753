"""Support for the anchoring fault tests (no tests here): invariants, a finality watcher."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.anchoring.worker import AnchorWorker
from store.models import AnchorBatch, BatchStatus, Event, Leaf
from tests.utils.anvil import ChainEnv
from tests.utils.store_factories import make_event


class Crash(Exception):
    """Injected: the worker process dies here (its object is abandoned)."""


def record_events(sessions: sessionmaker[Session], n: int) -> None:
    """Store n events with their pending leaves."""
    with store.transaction(sessions) as session:
        for _ in range(n):
            make_event(session)


def mine(env: ChainEnv, blocks: int = 1) -> None:
    """Mine blocks on demand."""
    env.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


def rpc(env: ChainEnv, method: str, params: list[Any]) -> Any:
    """A raw JSON-RPC call that must succeed."""
    reply = env.w3.provider.make_request(method, params)  # type: ignore[arg-type]
    assert "error" not in reply, reply
    return reply.get("result")


def crash_at(target: Any, name: str) -> None:
    """Make `target.name` raise Crash (instance attribute: only this worker object dies)."""

    def die(*_args: Any, **_kwargs: Any) -> Any:
        raise Crash(name)

    setattr(target, name, die)


def drive(
    make_worker: Callable[[], AnchorWorker],
    env: ChainEnv,
    sessions: sessionmaker[Session],
    passes: int = 20,
) -> None:
    """Run passes of a fresh worker, mining a block after each, until every leaf is final."""
    worker = make_worker()
    for _ in range(passes):
        worker.run_once()
        if all_final(sessions):
            return
        mine(env)
    raise AssertionError("events did not become final")


def all_final(sessions: sessionmaker[Session]) -> bool:
    """Whether every stored leaf belongs to a final batch."""
    with sessions() as session:
        statuses = session.scalars(
            select(AnchorBatch.status).join(Leaf, Leaf.batch_id == AnchorBatch.id, isouter=True)
        ).all()
        pending = store.pending_leaf_count(session)
    return pending == 0 and all(s is BatchStatus.FINAL for s in statuses)


def assert_final_exactly_once(env: ChainEnv, sessions: sessionmaker[Session], n: int) -> None:
    """Every event final once with a proof the contract accepts; no root on chain twice."""
    with sessions() as session:
        rows = session.execute(select(Leaf, Event, AnchorBatch).join(Event).join(AnchorBatch)).all()
        proofs = {leaf.id: store.leaf_proof(leaf, batch) for leaf, _, batch in rows}
        failed_or_other = session.scalars(
            select(AnchorBatch).where(AnchorBatch.status != BatchStatus.FINAL)
        ).all()
    assert len(rows) == n and len({leaf.event_id for leaf, _, _ in rows}) == n
    assert all(b.status is BatchStatus.FAILED for b in failed_or_other)
    for leaf, event, batch in rows:
        assert batch.status is BatchStatus.FINAL
        assert env.anchor.verify_against(
            batch.root, event.kind, event.event_hash, leaf.salt, proofs[leaf.id] or []
        )
        block = env.w3.eth.get_block(int(batch.block_number or 0))
        assert "0x" + bytes(block["hash"]).hex() == batch.block_hash
    logs = env.anchor.contract.events.RootAnchored().get_logs(from_block=0, to_block="latest")
    counts = Counter(bytes(log["args"]["root"]) for log in logs)
    assert all(count == 1 for count in counts.values()), counts
    for _, _, batch in rows:
        assert counts[bytes(batch.root)] == 1


class FinalityWatch:
    """Polls the store throughout a test: a batch shown final must be final on the chain."""

    def __init__(self, env: ChainEnv, sessions: sessionmaker[Session], confirmations: int) -> None:
        self.env, self.sessions, self.confirmations = env, sessions, confirmations
        self.violations: list[str] = []
        self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FinalityWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        # A look in progress may wait on a slow node (its HTTP timeout is 30 s): let it end
        # here, not append to `violations` after the test read them or run into the next test.
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the finality watch did not stop"
        # One last look after the test's work: a fast run can end between two polls, and the
        # final state must pass the same check.
        self.check()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception as exc:  # a node restart in the test: look again
                if "unreachable" not in str(exc).lower() and "connect" not in str(exc).lower():
                    self.violations.append(f"watch failed: {exc!r}")
            self._stop.wait(0.02)

    def check(self) -> None:
        """One look: store first, then the chain (the chain can only have moved on)."""
        with self.sessions() as session:
            final = session.execute(
                select(AnchorBatch.id, AnchorBatch.block_number, AnchorBatch.block_hash).where(
                    AnchorBatch.status == BatchStatus.FINAL
                )
            ).all()
        if not final:
            return
        head = int(self.env.w3.eth.block_number)
        for batch_id, number, block_hash in final:
            self.checks += 1
            if head - int(number) < self.confirmations:
                self.violations.append(f"batch {batch_id} final at depth {head - int(number)}")
            canonical = "0x" + bytes(self.env.w3.eth.get_block(int(number))["hash"]).hex()
            if canonical != block_hash:
                self.violations.append(f"batch {batch_id} final in a non-canonical block")
