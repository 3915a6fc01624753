"""`chaintrace backfill-projections`: the kind 2 leaves of events recorded before migration 0023.

Each round is one short transaction over at most `batch_size` events (a store of millions of
events is never locked for long, and an interrupted run keeps what it made); the leaves go
pending into the outbox, so the anchoring worker puts them in a platform root. Idempotent: an
event that has kind 2 leaves is never given more, so running it twice (or beside `up`) is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from store.db import read_transaction, transaction
from store.projections import backfill_member_leaves, missing_member_leaves

DEFAULT_BATCH = 1_000


@dataclass
class BackfillResult:
    """What a run did: events looked at, kind 2 leaves created."""

    events: int = 0
    leaves: int = 0


def backfill_projections(
    sessions: sessionmaker[Session],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_round: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    """Create every missing kind 2 leaf, `batch_size` events per transaction; `on_round(events,
    leaves)` after each round (progress)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    result = BackfillResult()
    after = 0
    while True:
        with transaction(sessions) as session:
            step = backfill_member_leaves(session, after, batch_size)
        if step.last_id is None:
            return result
        after = step.last_id
        result.events += step.events
        result.leaves += step.leaves
        if on_round is not None:
            on_round(step.events, step.leaves)


def events_to_backfill(sessions: sessionmaker[Session]) -> int:
    """An upper bound of the events the backfill has left (for a progress bar's total)."""
    with read_transaction(sessions) as session:
        return missing_member_leaves(session)
