"""Kind 2 leaves as events are recorded: one per EPC an object, aggregation or transformation
event names, over the CBV hash of its public projection P(event, epc) (core/epcis/projection.py),
with the locations the store holds as public when the leaf is made.

The projection's JSON is stored with its leaf: which locations are public can change later, and
the leaf commits to the projection as it was made. An EPC longer than leaves.epc (512
characters) gets no kind 2 leaf (store/epc_index.py does not index it either), nor does an event
whose projection does not hash (JSON that is no valid EPCIS event: every event recorded through
core.epcis hashes, so only rows written around it; the event is recorded all the same).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from core.epcis.errors import EpcisError
from core.epcis.events import dump
from core.epcis.projection import PROJECTED_TYPES, projection_hash, projections
from core.merkle import member_leaf_hash
from store._validate import IN_CHUNK
from store.models import Event, Leaf, Location
from store.models.events import MEMBER_KIND

MAX_EPC = 512  # leaves.epc's length
_LOGGER = logging.getLogger(__name__)


class MemberLeafRow(NamedTuple):
    """A kind 2 leaf to store: the EPC, its projection as stored, the salt, the leaf hash."""

    epc: str
    projection_json: str
    salt: bytes
    leaf_hash: bytes


def member_row(
    event_kind: int, epc: str, projected: Mapping[str, Any], salt: bytes | None = None
) -> MemberLeafRow:
    """The kind 2 leaf of one projection (a fresh random salt unless one is given)."""
    salt = secrets.token_bytes(32) if salt is None else salt
    leaf = member_leaf_hash(event_kind, projection_hash(projected), salt)
    return MemberLeafRow(epc, dump(projected), salt, leaf)


def location_ids(body: Mapping[str, Any]) -> set[str]:
    """The readPoint and bizLocation ids an event names, but geo URIs (always shown, coarse)."""
    found = set()
    for name in ("readPoint", "bizLocation"):
        value = body.get(name)
        location_id = value.get("id") if isinstance(value, Mapping) else None
        if isinstance(location_id, str) and not location_id.lower().startswith("geo:"):
            found.add(location_id)
    return found


def public_location_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Which of `ids` are registered public places (store/locations.py: a GLN or SGLN URN, as
    stored): the ids a projection shows."""
    wanted = sorted({i for i in ids if isinstance(i, str) and len(i) <= 80})
    public: set[str] = set()
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        public.update(
            session.scalars(
                select(Location.location_id).where(
                    Location.location_id.in_(chunk), Location.public.is_(True)
                )
            )
        )
    return public


def _body(event_type: str, event_json: str) -> Mapping[str, Any] | None:
    if event_type not in PROJECTED_TYPES or not event_json:
        return None
    try:
        body = json.loads(event_json)
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


def member_rows(
    session: Session, events: Sequence[tuple[int, str, str]]
) -> list[list[MemberLeafRow]]:
    """The kind 2 leaves of each (event kind, event type, event JSON), in order: fresh salts,
    projections with the locations public now (one look-up for all the events)."""
    bodies = [_body(event_type, event_json) for _, event_type, event_json in events]
    named: set[str] = set()
    for body in bodies:
        if body is not None:
            named |= location_ids(body)
    public = public_location_ids(session, named) if named else set()
    out: list[list[MemberLeafRow]] = []
    for (kind, _, _), body in zip(events, bodies, strict=True):
        out.append([] if body is None else _rows_of(kind, body, public))
    return out


def _rows_of(kind: int, body: Mapping[str, Any], public: set[str]) -> list[MemberLeafRow]:
    try:
        return [
            member_row(kind, p.epc, projected)
            for p, projected in projections(body, public)
            if len(p.epc) <= MAX_EPC
        ]
    except (EpcisError, ValueError, TypeError) as exc:
        _LOGGER.warning("no kind 2 leaves for an event whose projection does not hash: %s", exc)
        return []


def leaf_values(event_id: int, row: MemberLeafRow) -> dict[str, Any]:
    """A kind 2 leaf's column values."""
    return {
        "event_id": event_id,
        "kind": MEMBER_KIND,
        "epc": row.epc,
        "projection_json": row.projection_json,
        "salt": row.salt,
        "leaf_hash": row.leaf_hash,
    }


def insert_member_leaves(session: Session, event_id: int, rows: Sequence[MemberLeafRow]) -> None:
    """Store one event's kind 2 leaves, pending (in the caller's transaction)."""
    if rows:
        session.execute(insert(Leaf), [leaf_values(event_id, r) for r in rows])


class BackfillStep(NamedTuple):
    """One bounded round of the backfill: events looked at, kind 2 leaves created, the last
    event id read (the next round starts after it; None when no event was left)."""

    events: int
    leaves: int
    last_id: int | None


def missing_member_leaves(session: Session) -> int:
    """How many events of a projected type, not erased, have no kind 2 leaf yet (an upper
    bound of what the backfill has left: some name no EPC it can project)."""
    return session.scalar(select(func.count()).select_from(_without_members().subquery())) or 0


def _without_members() -> Select[int, int, str, str]:
    has_members = (
        select(Leaf.id).where(Leaf.event_id == Event.id, Leaf.kind == MEMBER_KIND).exists()
    )
    return select(Event.id, Event.kind, Event.event_type, Event.event_json).where(
        Event.event_type.in_(PROJECTED_TYPES), Event.event_json != "", ~has_members
    )


def backfill_member_leaves(session: Session, after_id: int, limit: int) -> BackfillStep:
    """Create the kind 2 leaves of up to `limit` events with ids above `after_id` that have
    none (events recorded before migration 0023, anchored or not), pending in the outbox, in
    the caller's transaction: fresh salts, the locations public now. Idempotent: an event that
    has kind 2 leaves is never given more."""
    rows = session.execute(
        _without_members().where(Event.id > after_id).order_by(Event.id).limit(limit)
    ).all()
    if not rows:
        return BackfillStep(0, 0, None)
    events = [(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]
    made = member_rows(session, [(kind, event_type, text) for _, kind, event_type, text in events])
    values = [
        leaf_values(event[0], row)
        for event, members in zip(events, made, strict=True)
        for row in members
    ]
    if values:
        session.execute(insert(Leaf), values)
    return BackfillStep(len(events), len(values), events[-1][0])
