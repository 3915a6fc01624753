"""Anchor batch lifecycle: pending -> sent -> anchored -> final; a reorg sends anchored back."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store._validate import hex32
from store.errors import InvalidTransitionError, NotFoundError, StoreValueError
from store.models import AnchorBatch, BatchStatus, Leaf
from store.models.types import utcnow

# Which states each status may be entered from.
_ALLOWED_FROM: dict[BatchStatus, frozenset[BatchStatus]] = {
    # SENT -> SENT is a replacement transaction (fee bump, or a new nonce after a reorg).
    BatchStatus.SENT: frozenset({BatchStatus.PENDING, BatchStatus.SENT}),
    BatchStatus.ANCHORED: frozenset({BatchStatus.SENT}),
    BatchStatus.FINAL: frozenset({BatchStatus.ANCHORED}),
    BatchStatus.FAILED: frozenset({BatchStatus.PENDING, BatchStatus.SENT}),
}


def _non_negative(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreValueError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def get_batch(session: Session, batch_id: int, *, for_update: bool = False) -> AnchorBatch:
    """The batch with this id (row-locked on PostgreSQL if `for_update`), or NotFoundError."""
    batch = session.get(AnchorBatch, batch_id, with_for_update=for_update or None)
    if batch is None:
        raise NotFoundError(f"no anchor batch with id {batch_id}")
    return batch


def _transition(session: Session, batch_id: int, to: BatchStatus) -> AnchorBatch:
    batch = get_batch(session, batch_id, for_update=True)
    if batch.status not in _ALLOWED_FROM[to]:
        raise InvalidTransitionError(f"anchor batch {batch_id}", batch.status.value, to.value)
    batch.status = to
    return batch


def mark_sent(
    session: Session, batch_id: int, *, tx_hash: str, raw_tx: bytes, nonce: int
) -> AnchorBatch:
    """Record the signed transaction that anchors the batch (kept to resend after a reorg)."""
    tx_hash = hex32(tx_hash, "tx_hash")
    if not isinstance(raw_tx, bytes) or not raw_tx:
        raise StoreValueError("raw_tx must be the non-empty signed transaction bytes")
    checked_nonce = _non_negative(nonce, "nonce")
    batch = _transition(session, batch_id, BatchStatus.SENT)
    batch.tx_hash, batch.raw_tx, batch.nonce = tx_hash, raw_tx, checked_nonce
    batch.sent_at = utcnow()
    session.flush()
    return batch


def mark_anchored(
    session: Session,
    batch_id: int,
    *,
    block_number: int,
    block_hash: str,
    gas_used: int | None = None,
    tx_hash: str | None = None,
) -> AnchorBatch:
    """The anchoring transaction is in a block (not yet final). `tx_hash` if a replacement mined."""
    checked_block = _non_negative(block_number, "block_number")
    block_hash = hex32(block_hash, "block_hash")
    checked_gas = _non_negative(gas_used, "gas_used")
    mined_tx = hex32(tx_hash, "tx_hash") if tx_hash is not None else None
    batch = _transition(session, batch_id, BatchStatus.ANCHORED)
    batch.block_number, batch.block_hash, batch.gas_used = checked_block, block_hash, checked_gas
    if mined_tx is not None:
        batch.tx_hash = mined_tx
    batch.anchored_at = utcnow()
    session.flush()
    return batch


def mark_final(session: Session, batch_id: int) -> AnchorBatch:
    """The anchoring block is final (finalized tag or N confirmations)."""
    batch = _transition(session, batch_id, BatchStatus.FINAL)
    batch.final_at = utcnow()
    session.flush()
    return batch


def reset_to_sent(session: Session, batch_id: int) -> AnchorBatch:
    """A reorg dropped the anchoring block: back to sent, block data cleared (final never moves)."""
    batch = get_batch(session, batch_id, for_update=True)
    if batch.status is not BatchStatus.ANCHORED:
        raise InvalidTransitionError(
            f"anchor batch {batch_id}", batch.status.value, BatchStatus.SENT.value
        )
    batch.status = BatchStatus.SENT
    batch.block_number = batch.block_hash = batch.gas_used = batch.anchored_at = None
    session.flush()
    return batch


def mark_failed(
    session: Session, batch_id: int, error: str, *, release_leaves: bool = True
) -> AnchorBatch:
    """Give up on a batch that never anchored; its leaves return to the outbox by default, except
    a brand's commissioning batch's: they go into no root the brand did not sign."""
    batch = _transition(session, batch_id, BatchStatus.FAILED)
    batch.error = str(error)[:4000]
    if release_leaves and batch.brand_address is None:
        session.execute(
            update(Leaf)
            .where(Leaf.batch_id == batch_id)
            .values(batch_id=None, leaf_index=None, proof=None)
            .execution_options(synchronize_session="fetch")
        )
    session.flush()
    return batch


def batches_by_status(
    session: Session,
    statuses: BatchStatus | str | Iterable[BatchStatus | str],
    *,
    limit: int | None = None,
) -> list[AnchorBatch]:
    """Batches in any of `statuses`, oldest first."""
    if isinstance(statuses, BatchStatus | str):
        statuses = [statuses]
    try:
        wanted = [BatchStatus(status) for status in statuses]
    except ValueError as exc:
        raise StoreValueError(str(exc)) from None
    stmt = select(AnchorBatch).where(AnchorBatch.status.in_(wanted)).order_by(AnchorBatch.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))
