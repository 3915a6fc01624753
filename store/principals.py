"""Principals and their API keys (only the SHA-256 of a key is stored)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import NotFoundError, StoreValueError
from store.models import ApiKey, Principal, Role
from store.models.types import utcnow

API_KEY_PREFIX = "ct_"
# A secret longer than this cannot be one we issued; refuse it before hashing.
_MAX_KEY_LENGTH = 128


def hash_api_key(secret: str) -> str:
    """The lookup hash of an API key secret: SHA-256, lowercase hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_principal(
    session: Session, name: str, role: Role | str, wallet_address: str | None = None
) -> Principal:
    """Add a principal (wallet address checksummed); flushed so it has an id."""
    try:
        role = Role(role)
    except ValueError:
        raise StoreValueError(f"unknown role {role!r}") from None
    principal = Principal(name=name, role=role, wallet_address=wallet_address)
    session.add(principal)
    session.flush()
    return principal


def create_api_key(session: Session, principal_id: int, label: str = "") -> str:
    """Issue a new key for a principal; the secret is returned once and never stored."""
    if session.get(Principal, principal_id) is None:
        raise NotFoundError(f"no principal with id {principal_id}")
    if len(label) > 200:
        raise StoreValueError("api key label longer than 200 characters")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(principal_id=principal_id, key_hash=hash_api_key(secret), label=label))
    session.flush()
    return secret


def principal_for_key(session: Session, secret: str) -> Principal | None:
    """The principal a live (unrevoked) key belongs to, or None for any unknown or bad input."""
    if not isinstance(secret, str) or not secret.startswith(API_KEY_PREFIX):
        return None
    if len(secret) > _MAX_KEY_LENGTH:
        return None
    stmt = (
        select(Principal)
        .join(ApiKey, ApiKey.principal_id == Principal.id)
        .where(ApiKey.key_hash == hash_api_key(secret), ApiKey.revoked_at.is_(None))
    )
    return session.scalars(stmt).one_or_none()


def revoke_api_key(session: Session, secret: str) -> bool:
    """Revoke the key with this secret; False if no live key matches."""
    if not isinstance(secret, str):
        return False
    key = session.scalars(
        select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret), ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if key is None:
        return False
    key.revoked_at = utcnow()
    session.flush()
    return True
