"""Brand commissioning in the store: drafts that expire unsigned, and batches a brand signed.

A draft lives in `commissioning_drafts` until the brand signs it (or it expires); the signature
turns it into items, events recorded with the draft's salts and kind 2 leaves (each serial's
public projection, as the draft made it), and a pending batch over both leaves of every serial
carrying `brand_address` and `brand_signature`, which the anchoring worker relays with
`anchorCommissioning`. A draft made before kind 2 leaves has none: its batch holds the events'
own leaves only, as signed, and their kind 2 leaves come later from `chaintrace
backfill-projections`, in a platform root (not brand-signed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.epcis.hashed_event import HashedEvent
from core.hexstr import hex0x
from core.merkle import MerkleTree
from store import create_batch, record_event
from store.errors import DraftExpiredError
from store.models import AnchorBatch, CommissioningDraft, Event, Item
from store.models.types import utcnow
from store.projections import MemberLeafRow, member_row

# A draft's status: waiting for the brand's signature, then submitted (its batch queued).
AWAITING_SIGNATURE = "awaiting_signature"
SUBMITTED = "submitted"


@dataclass(frozen=True)
class CommissioningBatch:
    """A batch whose root a brand signed: relay with anchorCommissioning(root, n, brand, sig)."""

    root: str
    leaf_count: int
    brand: str
    signature: str


def load_draft(
    session: Session, draft_id: str, *, for_update: bool = False
) -> CommissioningDraft | None:
    """A commissioning draft by id (locked for this transaction if asked), or None."""
    if not isinstance(draft_id, str) or not draft_id.isalnum() or len(draft_id) > 32:
        return None
    return session.get(CommissioningDraft, draft_id, with_for_update=for_update)


def expires_at(row: CommissioningDraft, ttl: timedelta) -> datetime | None:
    """When an unsigned draft stops accepting a signature; None once it is submitted."""
    return row.created_at + ttl if row.status == AWAITING_SIGNATURE else None


def check_not_expired(row: CommissioningDraft, ttl: timedelta) -> None:
    """Raise DraftExpiredError (410) if the draft is still unsigned and older than `ttl`."""
    deadline = expires_at(row, ttl)
    if deadline is not None and utcnow() >= deadline:
        raise DraftExpiredError(
            f"commissioning {row.id} expired unsigned at {deadline.isoformat()} "
            f"(drafts must be signed within {int(ttl.total_seconds())} s): start a new one"
        )


def save_draft(session: Session, draft: dict[str, Any]) -> CommissioningDraft:
    """Store a new draft built by api.commissioning.build_draft."""
    row = CommissioningDraft(
        id=draft["id"],
        principal_id=draft["principalId"],
        status=draft["status"],
        draft=draft,
        created_at=datetime.fromisoformat(draft["createdAt"]),
    )
    session.add(row)
    session.flush()
    return row


def mark_submitted(session: Session, row: CommissioningDraft) -> dict[str, Any]:
    """The draft, now submitted (signed drafts never expire: they name their batch)."""
    # A new dict: the JSON column notices a new value, not one changed in place.
    row.draft = {**row.draft, "status": SUBMITTED}
    row.status = SUBMITTED
    session.flush()
    return row.draft


def purge_expired_drafts(session: Session, ttl: timedelta) -> int:
    """Delete unsigned drafts expired for longer than `ttl` (until then they answer 410)."""
    cutoff = utcnow() - 2 * ttl
    result = session.execute(
        delete(CommissioningDraft).where(
            CommissioningDraft.status == AWAITING_SIGNATURE,
            CommissioningDraft.created_at < cutoff,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def commissioning_of_batch(session: Session, root: bytes | str) -> CommissioningBatch | None:
    """The brand signature behind a batch root; None for a platform batch or a refused relay."""
    raw = bytes.fromhex(root.removeprefix("0x")) if isinstance(root, str) else bytes(root)
    batch = session.scalar(select(AnchorBatch).where(AnchorBatch.root == raw))
    return None if batch is None else brand_signature_of(batch)


def brand_signature_of(batch: AnchorBatch) -> CommissioningBatch | None:
    """commissioning_of_batch for a batch already loaded (no query)."""
    if batch.brand_address is None or batch.brand_signature is None:
        return None
    if batch.relay_refused_at is not None:
        # The chain refused the brand's signature on it: it never speaks for the brand.
        return None
    return CommissioningBatch(
        root=hex0x(bytes(batch.root)),
        leaf_count=batch.leaf_count,
        brand=batch.brand_address,
        signature=hex0x(batch.brand_signature),
    )


def store_commissioning(
    session: Session,
    draft: dict[str, Any],
    *,
    product_id: int,
    brand_address: str,
    signature: str,
    recorded_by: int,
    anchor_version: int,
) -> tuple[AnchorBatch, list[Item]]:
    """Create the items, record their events with the draft's salts, and queue the signed batch.

    Runs in the caller's transaction; the caller has checked that no serial exists yet.
    """
    items: list[Item] = []
    events: list[Event] = []
    # Drafts made before revision 0019 carry no lot nor expiry.
    lot, expiry = draft.get("lot"), draft.get("expiry")
    for entry in draft["events"]:
        item = Item(
            product_id=product_id,
            serial=entry["serial"],
            lot=lot,
            expiry=None if expiry is None else date.fromisoformat(expiry),
        )
        session.add(item)
        session.flush()
        hashed = HashedEvent(
            kind=0,
            event_hash=bytes.fromhex(entry["eventHash"][2:]),
            event_json=entry["eventJson"],
            event_type="ObjectEvent",
            biz_step="commissioning",
            event_time_ms=int(entry["eventTimeMs"]),
        )
        event = record_event(
            session,
            hashed,
            recorded_by=recorded_by,
            item_ids=[item.id],
            # The brand signed a root over these salts: the leaf must carry them.
            salt=bytes.fromhex(entry["salt"][2:]),
            members=_draft_members(entry),
        )
        item.commission_event_id = event.id
        items.append(item)
        events.append(event)
    session.flush()
    leaves = []
    for event in events:
        if event.leaf is not None:
            leaves.append(event.leaf)
        leaves.extend(event.member_leaves)
    tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
    if hex0x(tree.root) != draft["root"]:
        raise ValueError("the stored leaves do not rebuild the signed root")
    batch = create_batch(session, tree, leaves, anchor_version=anchor_version)
    batch.brand_address = brand_address
    batch.brand_signature = bytes.fromhex(signature.removeprefix("0x"))
    session.flush()
    return batch, items


def _draft_members(entry: dict[str, Any]) -> list[MemberLeafRow]:
    """The kind 2 leaf a draft's entry carries (the projection and salt the brand signed over),
    its leaf recomputed; [] for a draft made before kind 2 leaves."""
    member = entry.get("member")
    if member is None:
        return []
    row = member_row(
        0,
        member["epc"],
        json.loads(member["projectionJson"]),
        bytes.fromhex(member["salt"][2:]),
    )
    if hex0x(row.leaf_hash) != member["leaf"]:
        raise ValueError(f"the draft's kind 2 leaf of {member['epc']} does not recompute")
    return [row._replace(projection_json=member["projectionJson"])]
