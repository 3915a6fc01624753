"""The append-only log of admin actions, for admins and auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, require_role
from api.schemas.common import INT64_MAX
from api.schemas.operations import AdminLogEntryPublic, AdminLogPage
from store.admin_log import admin_log_page
from store.models import AdminLogEntry, Role

router = APIRouter(
    tags=["operations"], dependencies=[Depends(require_role(Role.ADMIN, Role.AUDITOR))]
)


def entry_public(entry: AdminLogEntry) -> AdminLogEntryPublic:
    """The auditor's view of one entry (the whole row: it holds no secret)."""
    return AdminLogEntryPublic(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        actor_principal_id=entry.actor_principal_id,
        via=entry.via,
        action=entry.action,
        target=entry.target,
        details=entry.details,
    )


@router.get("/audit-log", response_model=AdminLogPage)
def audit_log(
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=INT64_MAX, description="Entries after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Entries per page")] = 100,
    action: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z][a-z0-9_.]*$",  # an action's name (a NUL would break PostgreSQL)
            description="Only this action",
        ),
    ] = None,
) -> AdminLogPage:
    """Admin actions, oldest first (admin or auditor key)."""
    entries = admin_log_page(session, after_id=after, limit=limit, action=action)
    last = entries[-1].id if len(entries) == limit else None
    return AdminLogPage(entries=[entry_public(e) for e in entries], next_after=last)
