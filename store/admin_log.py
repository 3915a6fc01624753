"""The append-only log of admin actions: one row per action, in the action's own transaction.

Nothing here updates or deletes a row, and the database refuses both (migration 0016's
triggers): what an admin did stays readable by auditors.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.errors import StoreValueError
from store.models import AdminLogEntry, Principal

API = "api"
CLI = "cli"


@dataclass(frozen=True)
class Actor:
    """Who acts: an admin principal through the API, or an operator at the CLI."""

    name: str
    via: str
    principal_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The admin principal behind an API request."""
        return cls(f"principal {principal.id} ({principal.name})", API, principal.id)

    @classmethod
    def cli(cls, name: str | None = None) -> Actor:
        """The operator running a CLI command (default: the OS user at this host)."""
        if name is None:
            try:
                user = getpass.getuser()
            except (KeyError, OSError):
                user = "unknown"
            name = f"{user}@{socket.gethostname()}"
        return cls(f"cli:{name}"[:200], CLI)


def record_admin_action(
    session: Session, actor: Actor, action: str, target: str, details: dict[str, Any] | None = None
) -> AdminLogEntry:
    """Add one row to the log in `session`'s transaction (committed or rolled back with the
    action it records). `details` never holds a secret."""
    if not action or len(action) > 64:
        raise StoreValueError("an admin action's name must be 1-64 characters")
    entry = AdminLogEntry(
        actor_principal_id=actor.principal_id,
        actor=actor.name[:200],
        via=actor.via,
        action=action,
        target=target[:200],
        details=details or {},
    )
    session.add(entry)
    session.flush()
    return entry


def admin_log_page(
    session: Session, *, after_id: int = 0, limit: int = 100, action: str | None = None
) -> list[AdminLogEntry]:
    """Up to `limit` entries with an id above `after_id`, oldest first (keyset paging: a page
    never shifts while the log grows); only `action` when given."""
    stmt = select(AdminLogEntry).where(AdminLogEntry.id > after_id)
    if action is not None:
        stmt = stmt.where(AdminLogEntry.action == action)
    return list(session.scalars(stmt.order_by(AdminLogEntry.id).limit(limit)))


def admin_log_size(session: Session) -> int:
    """How many entries the log holds."""
    return int(session.scalar(select(func.count()).select_from(AdminLogEntry)) or 0)
