"""Principals and API keys (admin), and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, status
from sqlalchemy import select

from api.deps import AdminPrincipal, CurrentPrincipal, SessionDep
from api.errors import Conflict, NotFound
from api.schemas.common import INT64_MAX
from api.schemas.principals import (
    ApiKeyCreate,
    ApiKeyCreated,
    PrincipalCreate,
    PrincipalCreated,
    PrincipalPublic,
)
from store import create_api_key, create_principal
from store.models import Principal, Role

router = APIRouter(prefix="/principals", tags=["principals"])

PrincipalId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A principal's id")]


def principal_public(principal: Principal) -> PrincipalPublic:
    """The public view of a principal."""
    return PrincipalPublic(
        id=principal.id,
        name=principal.name,
        role=principal.role,
        wallet_address=principal.wallet_address,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PrincipalCreated)
def create(body: PrincipalCreate, session: SessionDep, _admin: AdminPrincipal) -> PrincipalCreated:
    """Create a principal with one role and return its first API key (admin only)."""
    if body.wallet_address is not None:
        taken = session.scalar(
            select(Principal.id).where(Principal.wallet_address == body.wallet_address)
        )
        if taken is not None:
            raise Conflict(f"wallet {body.wallet_address} already belongs to principal {taken}")
    principal = create_principal(session, body.name, body.role, body.wallet_address)
    secret = create_api_key(session, principal.id, body.key_label)
    session.commit()
    return PrincipalCreated(**principal_public(principal).model_dump(), api_key=secret)


@router.get("", response_model=list[PrincipalPublic])
def list_all(session: SessionDep, _admin: AdminPrincipal) -> list[PrincipalPublic]:
    """Every principal (admin only)."""
    return [principal_public(p) for p in session.scalars(select(Principal).order_by(Principal.id))]


@router.get("/me", response_model=PrincipalPublic)
def me(principal: CurrentPrincipal) -> PrincipalPublic:
    """The principal the request's API key belongs to."""
    return principal_public(principal)


@router.get("/{principal_id}", response_model=PrincipalPublic)
def get(
    principal_id: PrincipalId, session: SessionDep, caller: CurrentPrincipal
) -> PrincipalPublic:
    """A principal's name, role and wallet (admins; anyone else only their own)."""
    # The directory is the admin's: another tenant learns neither names nor whether an id exists.
    if caller.role is not Role.ADMIN and caller.id != principal_id:
        raise NotFound(f"no principal with id {principal_id}")
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFound(f"no principal with id {principal_id}")
    return principal_public(principal)


@router.post(
    "/{principal_id}/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated
)
def issue_key(
    principal_id: PrincipalId,
    session: SessionDep,
    _admin: AdminPrincipal,
    body: ApiKeyCreate = Body(default_factory=ApiKeyCreate),
) -> ApiKeyCreated:
    """Issue another API key for a principal (admin only); the secret is shown once."""
    if session.get(Principal, principal_id) is None:
        raise NotFound(f"no principal with id {principal_id}")
    secret = create_api_key(session, principal_id, body.label)
    session.commit()
    return ApiKeyCreated(principal_id=principal_id, api_key=secret)
