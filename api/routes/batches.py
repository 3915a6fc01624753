"""Anchor batches by root (public)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import SessionDep
from api.errors import FieldError, NotFound
from api.finality import finality_of
from api.openapi_doc import errors
from api.schemas.batches import BatchPublic
from core.hexstr import hex0x
from store.commissioning import commissioning_of_batch
from store.models import AnchorBatch

router = APIRouter(prefix="/batches", tags=["batches"])


def batch_public(session: SessionDep, batch: AnchorBatch) -> BatchPublic:
    """The public view of a batch."""
    commissioning = commissioning_of_batch(session, batch.root)
    return BatchPublic(
        root=hex0x(batch.root),
        leaf_count=batch.leaf_count,
        status=batch.status.value,
        finality=finality_of(batch),
        tx_hash=batch.tx_hash,
        block_number=batch.block_number,
        block_hash=batch.block_hash,
        created_at=batch.created_at,
        anchored_at=batch.anchored_at,
        final_at=batch.final_at,
        commissioning_brand=commissioning.brand if commissioning else None,
    )


@router.get("/{root}", response_model=BatchPublic, responses=errors(404))
def get(root: str, session: SessionDep) -> BatchPublic:
    """A batch by its Merkle root (0x + 64 hex digits): status, transaction, block, finality."""
    try:
        raw = bytes.fromhex(root.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32 or not root.startswith("0x"):
        raise FieldError(["path", "root"], "must be 0x followed by 64 hex digits")
    batch = session.scalar(select(AnchorBatch).where(AnchorBatch.root == raw))
    if batch is None:
        raise NotFound(f"no anchor batch with root {root.lower()}")
    return batch_public(session, batch)
