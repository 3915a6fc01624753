"""The admin log as auditors read it, and erasures of events' personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from api.schemas.common import ApiModel
from store.erasure import MAX_REASON


class AdminLogEntryPublic(ApiModel):
    """One admin action: who, through what, what, on what, when."""

    id: int
    at: datetime
    actor: str = Field(
        description='"principal ID (name)" through the API, "cli:USER@HOST" at the CLI'
    )
    actor_principal_id: int | None
    via: str = Field(description="api or cli")
    action: str
    target: str
    details: dict[str, Any]


class AdminLogPage(ApiModel):
    """A page of the log, oldest first; pass `nextAfter` as `after` for the next one."""

    entries: list[AdminLogEntryPublic]
    next_after: int | None = Field(description="null: this was the last page")


class ErasureCreate(ApiModel):
    """Why the event's personal data is erased (kept in the erasure record and the admin log:
    write no personal data here)."""

    reason: str = Field(min_length=1, max_length=MAX_REASON)


class ErasurePublic(ApiModel):
    """An event whose personal data is erased: its leaf and root stay anchored."""

    event_id: int
    status: str = "erased"
    erased_at: datetime
    erased_by: str
    reason: str
    leaf: str = Field(description="The event's leaf hash, still in its batch's tree")
    root: str = Field(description="The batch root on chain, unchanged")
