"""Erasing one event's personal data (admin): its salt and JSON go, its leaf and root stay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import AdminPrincipal, SessionDep
from api.errors import Conflict
from api.openapi_doc import errors
from api.schemas.common import INT64_MAX
from api.schemas.operations import ErasureCreate, ErasurePublic
from core.hexstr import hex0x
from store.admin_log import Actor
from store.erasure import ErasureRefused, erase_event

router = APIRouter(prefix="/events", tags=["operations"])

EventId = Annotated[
    int, Path(ge=1, le=INT64_MAX, description="An event's id (as the resolver shows it)")
]


@router.post(
    "/{event_id}/erasure",
    status_code=status.HTTP_201_CREATED,
    response_model=ErasurePublic,
    responses=errors(404, 409),
)
def erase(
    event_id: EventId, body: ErasureCreate, session: SessionDep, admin: AdminPrincipal
) -> ErasurePublic:
    """Erase an anchored event's personal data for good: its salt and JSON (admin only); its
    leaf and root stay on chain and every other event's proof still verifies."""
    try:
        erased = erase_event(session, event_id, Actor.of(admin), body.reason)
    except ErasureRefused as exc:
        raise Conflict(str(exc)) from None
    session.commit()
    return ErasurePublic(
        event_id=event_id,
        erased_at=erased.record.erased_at,
        erased_by=erased.record.erased_by,
        reason=erased.record.reason,
        leaf=hex0x(erased.leaf.leaf_hash),
        root=hex0x(erased.batch.root),
    )
