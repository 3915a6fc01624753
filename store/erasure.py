"""Erasing one event's personal data: its salt and its JSON go, its leaf and root stay.

The leaf on chain is keccak256(kind, eventHash, salt) with a random salt (DESIGN.md): without
the salt nobody can link the anchored leaf to the event's content, and without the JSON nothing
of it is left in the store. The leaf hash stays, so the batch's tree, its root on chain and
every other event's proof are untouched; an erasure record says when, by whom and why. The
event's kind 2 leaves (its public projections, store/projections.py) lose their salts and
projection JSON the same way: their hashes stay, the link to the event is gone.

What stays of the event: its row (kind, type, bizStep, time, the items it names, its CBV hash
for duplicate detection) and its leaf hash; none of it is evidence any more (only the leaf is
anchored), so nobody shows it. The admin log's `event.erase` entry holds the leaf and root: the
audit accepts an erased event only with it. A commissioning is never erased (the brand's data,
and its items' only evidence). Device readings are a record of their own (the
evidence settlements are computed from) and are not erased with a roll-up event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.hexstr import hex0x
from store._validate import IN_CHUNK
from store.admin_log import Actor, record_admin_action
from store.epc_index import forget_event
from store.errors import NotFoundError, StoreError, StoreValueError
from store.models import (
    AnchorBatch,
    BatchStatus,
    Event,
    EventErasure,
    Item,
    Leaf,
    Shipment,
    ShipmentStatus,
)
from store.models.events import MEMBER_KIND

ERASED_JSON = ""  # what an erased event's event_json holds (the column is NOT NULL)
ERASED_SALT = b""  # likewise leaves.salt
_CLOSED = (ShipmentStatus.SETTLED, ShipmentStatus.REFUNDED)
_ON_CHAIN = (BatchStatus.ANCHORED, BatchStatus.FINAL)
MAX_REASON = 2000


class Erased(NamedTuple):
    """An erasure just made, with the leaf and batch that stay."""

    record: EventErasure
    leaf: Leaf
    batch: AnchorBatch


class ErasureRefused(StoreError):
    """The event cannot be erased now (already erased, not anchored yet, an open shipment's)."""


def erasure_of(session: Session, event_id: int) -> EventErasure | None:
    """The event's erasure record, or None if it was not erased."""
    return session.scalar(select(EventErasure).where(EventErasure.event_id == event_id))


def erasures_of(session: Session, event_ids: Sequence[int]) -> dict[int, EventErasure]:
    """The erasure records of those of `event_ids` that were erased, by event id (one query
    per IN_CHUNK ids, where erasure_of would take one per event)."""
    found: dict[int, EventErasure] = {}
    for start in range(0, len(event_ids), IN_CHUNK):
        chunk = event_ids[start : start + IN_CHUNK]
        for erasure in session.scalars(
            select(EventErasure).where(EventErasure.event_id.in_(chunk))
        ):
            found[erasure.event_id] = erasure
    return found


def erase_event(session: Session, event_id: int, actor: Actor, reason: str) -> Erased:
    """Erase the event's salt and JSON (and the copies in its commissioning draft), record the
    erasure and the admin action, in the caller's transaction."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise StoreValueError(f"an erasure needs a reason of 1-{MAX_REASON} characters")
    event = session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise NotFoundError(f"no event with id {event_id}")
    done = erasure_of(session, event_id)
    if done is not None:
        raise ErasureRefused(
            f"event {event_id} was erased at {done.erased_at.isoformat()} by {done.erased_by}"
        )
    _refuse_commissioning(session, event)
    leaf = session.scalar(select(Leaf).where(Leaf.event_id == event_id, Leaf.kind < MEMBER_KIND))
    batch = (
        None if leaf is None or leaf.batch_id is None else session.get(AnchorBatch, leaf.batch_id)
    )
    if leaf is None or batch is None or batch.status not in _ON_CHAIN:
        # Until its root is on chain a leaf may still be re-batched or re-signed from its salt.
        raise ErasureRefused(f"event {event_id} is not anchored yet: erase it once it is")
    if event.shipment_id is not None:
        shipment = session.get_one(Shipment, event.shipment_id)
        if shipment.status not in _CLOSED:
            raise ErasureRefused(
                f"event {event_id} belongs to shipment {shipment.shipment_id}, which is"
                f" {shipment.status.value}: its settlement may still need it"
            )
    event.event_json = ERASED_JSON
    forget_event(session, event_id)  # the EPCs it named go with its JSON
    leaf.salt = ERASED_SALT
    erase_member_leaves(session, event_id)
    erasure = EventErasure(event_id=event_id, erased_by=actor.name, reason=reason)
    session.add(erasure)
    details = {"reason": reason, "leaf": hex0x(leaf.leaf_hash), "root": hex0x(batch.root)}
    record_admin_action(session, actor, "event.erase", f"event {event_id}", details)
    session.flush()
    return Erased(erasure, leaf, batch)


def erase_member_leaves(session: Session, event_id: int) -> int:
    """Erase the salts and projection JSON of the event's kind 2 leaves (their hashes stay);
    how many. A kind 2 leaf still pending anchors all the same: nothing links it to the event
    any more."""
    result = session.execute(
        update(Leaf)
        .where(Leaf.event_id == event_id, Leaf.kind == MEMBER_KIND)
        .values(salt=ERASED_SALT, projection_json=ERASED_JSON)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _refuse_commissioning(session: Session, event: Event) -> None:
    """A commissioning is the brand's record of its own items, not personal data, and the only
    evidence behind its items' verdict: erasing it would leave a verdict nobody can check."""
    item = session.scalar(select(Item.id).where(Item.commission_event_id == event.id).limit(1))
    if event.biz_step == "commissioning" or item is not None:
        raise ErasureRefused(
            f"event {event.id} is a commissioning: it holds the brand's data, not personal"
            " data, and is the evidence of its items' verdict, so it is never erased"
        )
