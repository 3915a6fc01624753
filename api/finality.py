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


def confirmations_left(
    mode: str, needed: int, block_number: int | None, tip: int | None
) -> int | None:
    """How many more blocks an anchoring in `block_number` needs before it is final, counted
    from `tip` (the followed chain's head); None when that is no count of blocks (the chain's
    `finalized` tag decides) or not known yet (not in a block, nothing followed)."""
    if mode != "confirmations" or block_number is None or tip is None:
        return None
    return max(0, needed - max(0, tip - block_number))
