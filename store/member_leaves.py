"""An item's kind 2 leaves: for each event of its history, the public projection of that event
for the item's EPC, with its leaf, batch and proof (what the public page shows and proves)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from core.epcis.projection import projection_hash
from core.errors import MerkleError
from core.gs1 import sgtin_urn
from store._validate import IN_CHUNK
from store.commissioning import brand_signature_of
from store.models import AnchorBatch, BatchStatus, Item, Leaf
from store.models.events import MEMBER_KIND
from store.outbox import leaf_proof
from store.queries import EventRecord, item_history

_LOGGER = logging.getLogger(__name__)
# What api/finality.py calls a batch's state (pending, anchored, final, failed).
_FINALITY = {
    BatchStatus.FAILED: "failed",
    BatchStatus.FINAL: "final",
    BatchStatus.ANCHORED: "anchored",
}


@dataclass(frozen=True)
class MemberLeaf:
    """The kind 2 leaf of one event of an item's history, for the item's EPC.

    event_id, event_kind (0 event, 1 errorDeclaration: the leaf commits to it),
    event_time_ms: the event it projects;
    epc: the EPC as the event names it (the item's);
    projection: P(event, epc) as stored when the leaf was made (a dict, the exact JSON the leaf
      commits to), projection_hash its CBV 2.0 hash, salt the leaf's salt; all three None once
      the event was erased (`erased`);
    leaf: keccak256(keccak256(abi.encode(MEMBER_V1, 2, event_kind, projection_hash, salt)));
    leaf_id: the row;
    batch: the AnchorBatch holding the leaf, None while it waits in the outbox; from it:
      status ("pending" in the outbox or unsent, "sent", "anchored", "final", "failed"),
      finality (as api/finality.py: pending, anchored, final, failed), root, tx_hash,
      block_number, anchor_version (the TraceAnchor release: 2+ verifies kind 2 with
      verifyMember), signed_by_brand (the brand address if a brand signed the root, else None);
    proof: the sibling hashes (0x-hex, leaf to root), None until batched (or if the batch's
      tree does not hold it, logged).
    """

    event_id: int
    event_kind: int
    event_time_ms: int
    epc: str
    projection: dict[str, Any] | None
    projection_hash: bytes | None
    salt: bytes | None
    leaf: bytes
    leaf_id: int
    erased: bool
    batch: AnchorBatch | None
    status: str
    finality: str
    root: bytes | None
    tx_hash: str | None
    block_number: int | None
    anchor_version: int | None
    signed_by_brand: str | None
    proof: list[str] | None


def item_epcs(item: Item) -> list[str]:
    """The spellings of the item's SGTIN EPC URN an event may use (every company prefix length
    splits the GTIN differently); the brand's own prefix length first."""
    product = item.product
    own = len(product.brand.company_prefix)
    lengths = [own, *(n for n in range(6, 13) if n != own)]
    return [sgtin_urn(product.gtin, item.serial, n) for n in lengths]


def member_leaves_of_item(
    session: Session, item: Item, history: list[EventRecord] | None = None
) -> list[MemberLeaf]:
    """For every event of the item's history (store.queries.item_history, by event time) that
    has a kind 2 leaf for the item's EPC, that leaf with its batch and proof.

    An event of the history with no entry here has none: its type is not projected (only
    object, aggregation and transformation events are), it names the item otherwise (a
    parentID), or it was recorded before kind 2 leaves and waits for `chaintrace
    backfill-projections` (until then the page shows it without proof and says so).
    `history`: the item's item_history when the caller has it already (saves reading it again).
    """
    if history is None:
        history = item_history(session, item.product.gtin, item.serial)
    event_ids = [record.event.id for record in history]
    leaves: dict[int, tuple[Leaf, AnchorBatch | None]] = {}
    epcs = item_epcs(item)
    for start in range(0, len(event_ids), IN_CHUNK):
        rows = session.execute(
            select(Leaf, AnchorBatch)
            .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
            # The proofs below read each batch's tree: in this query, not one more per batch.
            .options(undefer(AnchorBatch.tree_nodes))
            .where(
                Leaf.event_id.in_(event_ids[start : start + IN_CHUNK]),
                Leaf.kind == MEMBER_KIND,
                Leaf.epc.in_(epcs),
            )
            .order_by(Leaf.id)
        )
        for leaf, batch in rows:
            leaves.setdefault(leaf.event_id, (leaf, batch))
    out = []
    for record in history:
        found = leaves.get(record.event.id)
        if found is not None:
            out.append(_member(record.event.kind, record.event.event_time_ms, *found))
    return out


def _member(
    event_kind: int, event_time_ms: int, leaf: Leaf, batch: AnchorBatch | None
) -> MemberLeaf:
    erased = not leaf.projection_json or not leaf.salt
    projected = None if erased else json.loads(str(leaf.projection_json))
    brand = brand_signature_of(batch) if batch is not None else None
    return MemberLeaf(
        event_id=leaf.event_id,
        event_kind=event_kind,
        event_time_ms=event_time_ms,
        epc=leaf.epc,
        projection=projected,
        projection_hash=None if projected is None else projection_hash(projected),
        salt=None if erased else bytes(leaf.salt),
        leaf=bytes(leaf.leaf_hash),
        leaf_id=leaf.id,
        erased=erased,
        batch=batch,
        status="pending" if batch is None else batch.status.value,
        finality="pending" if batch is None else _FINALITY.get(batch.status, "pending"),
        root=None if batch is None else bytes(batch.root),
        tx_hash=None if batch is None else batch.tx_hash,
        block_number=None if batch is None else batch.block_number,
        anchor_version=None if batch is None else batch.anchor_version,
        signed_by_brand=None if brand is None else brand.brand,
        proof=_proof(leaf, batch),
    )


def _proof(leaf: Leaf, batch: AnchorBatch | None) -> list[str] | None:
    try:
        return leaf_proof(leaf, batch)
    except MerkleError as exc:
        _LOGGER.error("kind 2 leaf %d: no proof in its batch's tree: %s", leaf.id, exc)
        return None
