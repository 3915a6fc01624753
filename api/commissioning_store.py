"""Adapter over store/ for brand commissioning: drafts, and batches signed by a brand.

store/ has no columns for a commissioning draft or for the brand's signature on a batch, and its
record_event() picks the salt itself, while a brand signs a root over salts chosen before. Until
store grows them (`record_event(salt=...)`, `anchor_batches.brand_address` and
`anchor_batches.brand_signature`), this module keeps both in the settings table under the keys
below, and the anchoring worker relays a batch with `anchorCommissioning` when
`commissioning_of_batch(root)` finds one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.merkle import MerkleTree, leaf_hash
from store import create_batch, get_setting, record_event, set_setting
from store.models import AnchorBatch, Event, Item

DRAFT_KEY = "commissioning:draft:{id}"
BATCH_KEY = "commissioning:batch:{root}"


@dataclass(frozen=True)
class CommissioningBatch:
    """A batch whose root a brand signed: relay with anchorCommissioning(root, n, brand, sig)."""

    root: str
    leaf_count: int
    brand: str
    signature: str
    commissioning_id: str


def load_draft(session: Session, draft_id: str) -> dict[str, Any] | None:
    """A commissioning draft by id, or None."""
    if not isinstance(draft_id, str) or not draft_id.isalnum() or len(draft_id) > 64:
        return None
    value = get_setting(session, DRAFT_KEY.format(id=draft_id))
    return value if isinstance(value, dict) else None


def save_draft(session: Session, draft: dict[str, Any]) -> None:
    """Store (or replace) a draft under its id."""
    # A copy: the JSON column notices a new value, not one changed in place.
    set_setting(session, DRAFT_KEY.format(id=draft["id"]), copy.deepcopy(draft))


def commissioning_of_batch(session: Session, root: bytes | str) -> CommissioningBatch | None:
    """The brand signature behind a batch root, or None for a platform batch."""
    root_hex = root if isinstance(root, str) else "0x" + root.hex()
    value = get_setting(session, BATCH_KEY.format(root=root_hex.lower()))
    if not isinstance(value, dict):
        return None
    return CommissioningBatch(
        root=root_hex.lower(),
        leaf_count=int(value["leafCount"]),
        brand=str(value["brand"]),
        signature=str(value["signature"]),
        commissioning_id=str(value["commissioningId"]),
    )


def store_commissioning(
    session: Session,
    draft: dict[str, Any],
    *,
    product_id: int,
    brand_address: str,
    signature: str,
    recorded_by: int,
) -> tuple[AnchorBatch, list[Item]]:
    """Create the items, record their events with the draft's salts, and queue the signed batch.

    Runs in the caller's transaction; the caller has checked that no serial exists yet.
    """
    items: list[Item] = []
    events: list[Event] = []
    for entry in draft["events"]:
        item = Item(product_id=product_id, serial=entry["serial"])
        session.add(item)
        session.flush()
        event_hash = bytes.fromhex(entry["eventHash"][2:])
        event = record_event(
            session,
            kind=0,
            event_hash=event_hash,
            event_json=entry["eventJson"],
            event_type="ObjectEvent",
            biz_step="commissioning",
            event_time_ms=int(entry["eventTimeMs"]),
            recorded_by=recorded_by,
            item_ids=[item.id],
            leaf_hash_fn=leaf_hash,
        )
        # The brand signed a root over these salts: the leaf must carry them, not a fresh one.
        if event.leaf is None:
            raise RuntimeError(f"event {event.id} was recorded without a leaf")
        salt = bytes.fromhex(entry["salt"][2:])
        event.leaf.salt = salt
        event.leaf.leaf_hash = leaf_hash(0, event_hash, salt)
        item.commission_event_id = event.id
        items.append(item)
        events.append(event)
    session.flush()
    leaves = [event.leaf for event in events if event.leaf is not None]
    tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
    root_hex = "0x" + tree.root.hex()
    if root_hex != draft["root"]:
        raise ValueError("the stored leaves do not rebuild the signed root")
    batch = create_batch(session, tree.root, leaves, tree.proofs())
    set_setting(
        session,
        BATCH_KEY.format(root=root_hex),
        {
            "leafCount": len(leaves),
            "brand": brand_address,
            "signature": signature,
            "commissioningId": draft["id"],
        },
    )
    return batch, items
