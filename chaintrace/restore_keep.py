"""What a restore keeps of the store it replaces: erasures and admin-log entries made after the
backup was taken.

An erasure is for good (a data subject's request) and the admin log is append-only: restoring
an older backup must bring neither the erased JSON and salts back nor lose what admins did
since. So the store's erasures and log are read before it is replaced; afterwards the log
entries the backup does not hold are inserted again (ids, times and actors as they were) and
each erasure the backup does not hold is applied again (same leaf, original time, actor and
reason), in the transaction that logs the restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.hexstr import hex0x
from store.admin_log import Actor, record_admin_action
from store.epc_index import forget_event
from store.erasure import ERASED_JSON, ERASED_SALT, erase_member_leaves, erasure_of
from store.models import AdminLogEntry, AnchorBatch, Event, EventErasure, Leaf, Principal
from store.models.events import MEMBER_KIND


@dataclass(frozen=True)
class KeptErasure:
    """An erasure of the replaced store, by the leaf it erased (an event's id may differ)."""

    leaf: bytes
    event_id: int
    erased_at: datetime
    erased_by: str
    reason: str


@dataclass(frozen=True)
class KeptEntry:
    """An admin-log entry of the replaced store, as it was."""

    id: int
    at: datetime
    actor_principal_id: int | None
    actor: str
    via: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Kept:
    """What the replaced store held that a restore must not lose."""

    erasures: list[KeptErasure] = field(default_factory=list)
    log: list[KeptEntry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.erasures or self.log)


def read_kept(engine: sa.Engine) -> Kept:
    """The store's erasures and admin log (nothing before schema 0016 or in an empty store)."""
    tables = set(sa.inspect(engine).get_table_names())
    if not {"admin_log", "event_erasures", "leaves"} <= tables:
        return Kept()
    with Session(engine) as session:
        erasures = [
            KeptErasure(bytes(leaf), event_id, at, by, reason)
            for leaf, event_id, at, by, reason in session.execute(
                select(
                    Leaf.leaf_hash,
                    EventErasure.event_id,
                    EventErasure.erased_at,
                    EventErasure.erased_by,
                    EventErasure.reason,
                )
                .join(Leaf, and_(Leaf.event_id == EventErasure.event_id, Leaf.kind < MEMBER_KIND))
                .order_by(EventErasure.id)
            )
        ]
        log = [
            KeptEntry(
                e.id, e.at, e.actor_principal_id, e.actor, e.via, e.action, e.target, e.details
            )
            for e in session.scalars(select(AdminLogEntry).order_by(AdminLogEntry.id))
        ]
    return Kept(erasures, log)


def reapply(session: Session, kept: Kept, actor: Actor) -> dict[str, Any]:
    """Insert the kept log entries newer than the restored log's last one, erase again every
    kept erasure the restored store does not hold; returns what was done, for the restore's own
    log entry."""
    last = session.scalar(select(func.max(AdminLogEntry.id))) or 0
    principals = set(session.scalars(select(Principal.id)))
    carried = [entry for entry in kept.log if entry.id > last]
    for entry in carried:
        # A principal created after the backup is gone: its name stays in `actor`.
        pid = entry.actor_principal_id if entry.actor_principal_id in principals else None
        session.add(
            AdminLogEntry(
                id=entry.id,
                at=entry.at,
                actor_principal_id=pid,
                actor=entry.actor,
                via=entry.via,
                action=entry.action,
                target=entry.target,
                details=entry.details,
            )
        )
    session.flush()
    if carried and session.get_bind().dialect.name == "postgresql":
        # Ids given explicitly do not move the sequence: the next entry must come after them.
        session.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('admin_log', 'id'),"
                " (SELECT max(id) FROM admin_log))"
            )
        )
    logged = {(e.target, e.details.get("leaf")) for e in carried if e.action == "event.erase"}
    erased = []
    for erasure in kept.erasures:
        leaf = session.scalar(
            select(Leaf).where(Leaf.leaf_hash == erasure.leaf, Leaf.kind < MEMBER_KIND)
        )
        if leaf is None or leaf.event_id is None or erasure_of(session, leaf.event_id):
            continue  # the event is not in the backup at all, or erased there already
        event = session.get_one(Event, leaf.event_id)
        event.event_json = ERASED_JSON
        forget_event(session, event.id)
        leaf.salt = ERASED_SALT
        erase_member_leaves(session, event.id)
        session.add(
            EventErasure(
                event_id=event.id,
                erased_at=erasure.erased_at,
                erased_by=erasure.erased_by,
                reason=erasure.reason,
            )
        )
        erased.append(event.id)
        if (f"event {event.id}", hex0x(erasure.leaf)) not in logged:
            # Its own entry is not among the carried ones (another id in this backup): the
            # audit needs one naming the leaf and root.
            batch = None if leaf.batch_id is None else session.get(AnchorBatch, leaf.batch_id)
            details = {
                "reason": erasure.reason,
                "leaf": hex0x(erasure.leaf),
                "root": None if batch is None else hex0x(batch.root),
                "reappliedAfterRestore": True,
            }
            record_admin_action(session, actor, "event.erase", f"event {event.id}", details)
    session.flush()
    return {"reappliedErasures": erased, "carriedLogEntries": [e.id for e in carried]}
