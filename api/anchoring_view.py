"""How an event is anchored, as the resolver and the EPCIS query show it: its hash, salt, leaf,
proof, root, finality and the anchoring transaction (one definition for both)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from api.finality import finality_of
from core.epcis.hashing import event_id
from core.errors import MerkleError
from core.hexstr import hex0x
from store.commissioning import commissioning_of_batch
from store.models import AnchorBatch, Leaf
from store.outbox import leaf_proof
from store.queries import EventRecord

_LOGGER = logging.getLogger(__name__)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else hex0x(value)


def _proof(leaf: Leaf | None, batch: AnchorBatch | None) -> list[str] | None:
    """The leaf's proof; None (logged) if its batch's stored tree does not hold it: one broken
    record must not take the item's whole history down."""
    if leaf is None:
        return None
    try:
        return leaf_proof(leaf, batch)
    except MerkleError as exc:
        _LOGGER.error(
            "leaf %d: no proof in batch %s's tree: %s",
            leaf.id,
            None if batch is None else batch.id,
            exc,
        )
        return None


def anchoring_fields(
    session: Session, record: EventRecord, contracts: dict[int, str], *, erased: bool
) -> dict[str, Any]:
    """eventHash (ni:///), eventHashHex, salt, leaf, proof, root, finality and `anchoring`
    (status, root, txHash, blockNumber, signedByBrand, contract) of a stored event; an erased
    event keeps only its leaf and what proves it."""
    event, leaf, batch = record
    commissioning = commissioning_of_batch(session, batch.root) if batch is not None else None
    return {
        "eventHash": None if erased else event_id(event.event_hash),
        "eventHashHex": None if erased else _hex(event.event_hash),
        "salt": _hex(leaf.salt) if leaf and not erased else None,
        "leaf": _hex(leaf.leaf_hash) if leaf else None,
        "proof": _proof(leaf, batch),
        "root": _hex(batch.root) if batch is not None else None,
        "finality": finality_of(batch),
        "anchoring": {
            "status": batch.status.value if batch is not None else "pending",
            "root": _hex(batch.root) if batch is not None else None,
            "txHash": batch.tx_hash if batch is not None else None,
            "blockNumber": batch.block_number if batch is not None else None,
            "signedByBrand": commissioning.brand if commissioning else None,
            # The TraceAnchor release the root goes to (None without a chain).
            "contract": contracts.get(batch.anchor_version) if batch is not None else None,
        },
    }
