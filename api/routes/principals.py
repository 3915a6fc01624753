"""Principals and API keys (admin), and who-am-I; a principal lists and revokes its own keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, status
from sqlalchemy import select

from api.deps import AdminPrincipal, CurrentPrincipal, SessionDep
from api.errors import Conflict, NotFound
from api.openapi_doc import errors
from api.schemas.common import INT64_MAX
from api.schemas.principals import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    PrincipalCreate,
    PrincipalCreated,
    PrincipalPatch,
    PrincipalPublic,
)
from store import create_api_key, create_principal
from store.admin_log import Actor, record_admin_action
from store.models import ApiKey, Principal, Role
from store.models.types import utcnow
from store.principals import api_keys_of, revoke_api_key_by_id, set_disabled, set_wallet

router = APIRouter(prefix="/principals", tags=["principals"])

PrincipalId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A principal's id")]
KeyId = Annotated[int, Path(ge=1, le=INT64_MAX, description="An API key's id")]


def principal_public(principal: Principal) -> PrincipalPublic:
    """The public view of a principal."""
    return PrincipalPublic(
        id=principal.id,
        name=principal.name,
        role=principal.role,
        wallet_address=principal.wallet_address,
        disabled_at=principal.disabled_at,
    )


def key_public(key: ApiKey) -> ApiKeyPublic:
    """A key's public view: everything but the secret, which is not stored."""
    return ApiKeyPublic(
        id=key.id,
        label=key.label,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _own_or_admin(caller: Principal, principal_id: int) -> None:
    # The directory is the admin's: another tenant learns neither names nor whether an id exists.
    if caller.role is not Role.ADMIN and caller.id != principal_id:
        raise NotFound(f"no principal with id {principal_id}")


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=PrincipalCreated, responses=errors(409)
)
def create(body: PrincipalCreate, session: SessionDep, admin: AdminPrincipal) -> PrincipalCreated:
    """Create a principal with one role and return its first API key (admin only)."""
    if body.wallet_address is not None:
        taken = session.scalar(
            select(Principal.id).where(Principal.wallet_address == body.wallet_address)
        )
        if taken is not None:
            raise Conflict(f"wallet {body.wallet_address} already belongs to principal {taken}")
    principal = create_principal(session, body.name, body.role, body.wallet_address)
    secret = create_api_key(session, principal.id, body.key_label)
    details = {"name": body.name, "role": str(body.role), "wallet": body.wallet_address}
    record_admin_action(
        session, Actor.of(admin), "principal.create", f"principal {principal.id}", details
    )
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


@router.get("/{principal_id:int}", response_model=PrincipalPublic, responses=errors(404))
def get(
    principal_id: PrincipalId, session: SessionDep, caller: CurrentPrincipal
) -> PrincipalPublic:
    """A principal's name, role and wallet (admins; anyone else only their own)."""
    _own_or_admin(caller, principal_id)
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFound(f"no principal with id {principal_id}")
    return principal_public(principal)


@router.post(
    "/{principal_id:int}/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=errors(404),
)
def issue_key(
    principal_id: PrincipalId,
    session: SessionDep,
    admin: AdminPrincipal,
    body: ApiKeyCreate = Body(default_factory=ApiKeyCreate),
) -> ApiKeyCreated:
    """Issue another API key for a principal (admin only); the secret is shown once. With
    `expiresInDays` it stops working that many days from now."""
    if session.get(Principal, principal_id) is None:
        raise NotFound(f"no principal with id {principal_id}")
    days = body.expires_in_days
    expires_at = None if days is None else utcnow() + timedelta(days=days)
    secret = create_api_key(session, principal_id, body.label, expires_at)
    details = {"label": body.label, "expiresAt": None if expires_at is None else str(expires_at)}
    record_admin_action(
        session, Actor.of(admin), "api_key.create", f"principal {principal_id}", details
    )
    session.commit()
    return ApiKeyCreated(principal_id=principal_id, api_key=secret)


@router.get(
    "/{principal_id:int}/api-keys", response_model=list[ApiKeyPublic], responses=errors(404)
)
def list_keys(
    principal_id: PrincipalId, session: SessionDep, caller: CurrentPrincipal
) -> list[ApiKeyPublic]:
    """A principal's keys, revoked and expired ones included (admins; anyone else its own)."""
    _own_or_admin(caller, principal_id)
    return [key_public(key) for key in api_keys_of(session, principal_id)]


@router.delete(
    "/{principal_id:int}/api-keys/{key_id:int}", response_model=ApiKeyPublic, responses=errors(404)
)
def revoke_key(
    principal_id: PrincipalId, key_id: KeyId, session: SessionDep, caller: CurrentPrincipal
) -> ApiKeyPublic:
    """Revoke a key by id, at once and for good (admins; anyone else its own keys, e.g. a leaked
    one, the key of this very request included)."""
    _own_or_admin(caller, principal_id)
    key = revoke_api_key_by_id(session, principal_id, key_id)
    if caller.role is Role.ADMIN:  # a principal revoking its own key is no admin action
        target = f"principal {principal_id} key {key_id}"
        record_admin_action(session, Actor.of(caller), "api_key.revoke", target)
    session.commit()
    return key_public(key)


@router.patch("/{principal_id:int}", response_model=PrincipalPublic, responses=errors(404, 409))
def update(
    principal_id: PrincipalId, body: PrincipalPatch, session: SessionDep, admin: AdminPrincipal
) -> PrincipalPublic:
    """Set or clear a principal's wallet (e.g. a brand's new key after a compromise), disable a
    principal (none of its keys works until it is enabled) or enable it (admin only)."""
    if session.get(Principal, principal_id) is None:
        raise NotFound(f"no principal with id {principal_id}")
    if body.disabled and principal_id == admin.id:
        raise Conflict("an admin cannot disable itself: another admin can")
    if "wallet_address" in body.model_fields_set:
        taken = body.wallet_address and session.scalar(
            select(Principal.id).where(Principal.wallet_address == body.wallet_address)
        )
        if taken and taken != principal_id:
            raise Conflict(f"wallet {body.wallet_address} already belongs to principal {taken}")
        set_wallet(session, principal_id, body.wallet_address)
    if body.disabled is not None:
        set_disabled(session, principal_id, body.disabled)
    record_admin_action(
        session,
        Actor.of(admin),
        "principal.update",
        f"principal {principal_id}",
        body.model_dump(mode="json", by_alias=True, exclude_unset=True),
    )
    principal = session.get_one(Principal, principal_id)
    session.commit()
    return principal_public(principal)
