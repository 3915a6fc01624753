"""What the public sees of an event's anchoring: pending, anchored or final (never early)."""

from __future__ import annotations

from store.models import AnchorBatch, BatchStatus

PENDING, ANCHORED, FINAL, FAILED = "pending", "anchored", "final", "failed"


def finality_of(batch: AnchorBatch | None) -> str:
    """pending until the anchoring transaction is in a block, final only once the worker says so;
    failed for a brand's root the chain refused (it is never anchored, nor its leaves elsewhere)."""
    if batch is None:
        return PENDING
    if batch.status is BatchStatus.FAILED:
        return FAILED
    if batch.status is BatchStatus.FINAL:
        return FINAL
    if batch.status is BatchStatus.ANCHORED:
        return ANCHORED
    return PENDING
