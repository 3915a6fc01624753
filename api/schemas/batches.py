"""Anchor batches: one Merkle root and the transaction that anchors it."""

from __future__ import annotations

from datetime import datetime

from api.schemas.common import ApiModel


class BatchPublic(ApiModel):
    """A batch's anchoring and finality status (pending, sent, anchored, final, failed)."""

    root: str
    leaf_count: int
    status: str
    finality: str
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    created_at: datetime
    anchored_at: datetime | None
    final_at: datetime | None
    commissioning_brand: str | None = None
