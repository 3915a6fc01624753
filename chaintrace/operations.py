"""The operator's store commands: erase one event's personal data, read the admin log."""

from __future__ import annotations

from typing import Any

from core.hexstr import hex0x
from store.admin_log import Actor, admin_log_page
from store.db import make_engine, read_transaction, session_factory, transaction
from store.erasure import erase_event


def erase_event_data(
    database_url: str, event_id: int, reason: str, by: str | None = None
) -> dict[str, Any]:
    """Erase the event's salt and JSON (store.erasure), logged as the CLI's operator."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            erased = erase_event(session, event_id, Actor.cli(by), reason)
            return {
                "eventId": event_id,
                "status": "erased",
                "erasedAt": erased.record.erased_at.isoformat(),
                "erasedBy": erased.record.erased_by,
                "leaf": hex0x(erased.leaf.leaf_hash),
                "root": hex0x(erased.batch.root),
            }
    finally:
        engine.dispose()


def admin_log_rows(
    database_url: str, after: int, limit: int, action: str | None
) -> list[dict[str, Any]]:
    """A page of the admin log as `chaintrace audit-log` prints it."""
    engine = make_engine(database_url)
    try:
        with read_transaction(session_factory(engine)) as session:
            return [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "via": e.via,
                    "action": e.action,
                    "target": e.target,
                    "details": e.details,
                }
                for e in admin_log_page(session, after_id=after, limit=limit, action=action)
            ]
    finally:
        engine.dispose()
