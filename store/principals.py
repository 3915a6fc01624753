"""Principals and their API keys (only the SHA-256 of a key is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, contains_eager

from store._validate import checksum_address
from store.errors import NotFoundError, StoreValueError
from store.models import ApiKey, Principal, Role
from store.models.types import utcnow

API_KEY_PREFIX = "ct_"
# A secret longer than this cannot be one we issued; refuse it before hashing.
_MAX_KEY_LENGTH = 128
# last_used_at is written at most once per key in this interval: a request is a read, and a
# write per request would hold SQLite's write lock as often as the API is used.
LAST_USED_STEP = timedelta(minutes=5)


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


def create_api_key(
    session: Session, principal_id: int, label: str = "", expires_at: datetime | None = None
) -> str:
    """Issue a new key for a principal (expiring at `expires_at`, None: never); the secret is
    returned once and never stored."""
    if session.get(Principal, principal_id) is None:
        raise NotFoundError(f"no principal with id {principal_id}")
    if len(label) > 200:
        raise StoreValueError("api key label longer than 200 characters")
    if expires_at is not None and expires_at <= utcnow():
        raise StoreValueError("a key's expiry must be in the future")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        principal_id=principal_id, key_hash=hash_api_key(secret), label=label, expires_at=expires_at
    )
    session.add(key)
    session.flush()
    return secret


def live_api_key(session: Session, secret: str) -> ApiKey | None:
    """The key with this secret if it works now: not revoked, not expired, its principal not
    disabled; None for any unknown or bad input."""
    if not isinstance(secret, str) or not secret.startswith(API_KEY_PREFIX):
        return None
    if len(secret) > _MAX_KEY_LENGTH:
        return None
    now = utcnow()
    stmt = (
        select(ApiKey)
        .join(Principal, ApiKey.principal_id == Principal.id)
        .options(contains_eager(ApiKey.principal))  # one query per request, not two
        .where(
            ApiKey.key_hash == hash_api_key(secret),
            ApiKey.revoked_at.is_(None),
            (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
            Principal.disabled_at.is_(None),
        )
    )
    return session.scalars(stmt).one_or_none()


def principal_for_key(session: Session, secret: str) -> Principal | None:
    """The principal a live key belongs to, or None for any unknown or bad input."""
    key = live_api_key(session, secret)
    return None if key is None else key.principal


def needs_marking(key: ApiKey, now: datetime | None = None) -> bool:
    """Whether `key`'s last use is unrecorded or older than LAST_USED_STEP."""
    now = now or utcnow()
    return key.last_used_at is None or now - key.last_used_at >= LAST_USED_STEP


def mark_used(session: Session, key: ApiKey, now: datetime | None = None) -> bool:
    """Record that `key` was used, at most once per LAST_USED_STEP; True if it wrote."""
    now = now or utcnow()
    if not needs_marking(key, now):
        return False
    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return True


def api_keys_of(session: Session, principal_id: int) -> list[ApiKey]:
    """A principal's keys, oldest first (NotFoundError for an unknown principal)."""
    if session.get(Principal, principal_id) is None:
        raise NotFoundError(f"no principal with id {principal_id}")
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.principal_id == principal_id).order_by(ApiKey.id)
        )
    )


def revoke_api_key_by_id(session: Session, principal_id: int, key_id: int) -> ApiKey:
    """Revoke one of a principal's keys by id (a revoked one stays revoked when it was)."""
    key = session.get(ApiKey, key_id)
    if key is None or key.principal_id != principal_id:
        raise NotFoundError(f"principal {principal_id} has no key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def set_disabled(session: Session, principal_id: int, disabled: bool) -> Principal:
    """Disable a principal (none of its keys works) or enable it again."""
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFoundError(f"no principal with id {principal_id}")
    if disabled and principal.disabled_at is None:
        principal.disabled_at = utcnow()
    elif not disabled:
        principal.disabled_at = None
    session.flush()
    return principal


def set_wallet(session: Session, principal_id: int, wallet: str | None) -> Principal:
    """Set (or clear) a principal's wallet; StoreValueError if another principal holds it."""
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFoundError(f"no principal with id {principal_id}")
    if wallet is not None:
        wallet = checksum_address(wallet, "wallet_address")
        holder = session.scalar(select(Principal.id).where(Principal.wallet_address == wallet))
        if holder is not None and holder != principal_id:
            raise StoreValueError(f"wallet {wallet} already belongs to principal {holder}")
    principal.wallet_address = wallet
    session.flush()
    return principal


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
