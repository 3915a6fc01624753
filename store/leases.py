"""Leases with fencing tokens: one active holder per name, on SQLite and PostgreSQL.

A holder acquires (or renews) a lease for a time; a new holder after expiry gets a larger
token. Every state write of the holder calls `check_fence` in the same transaction: the lease
row is locked there (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers),
so a worker whose lease passed to another cannot commit a write after the handover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import StoreError, StoreValueError
from store.models.leases import Lease
from store.models.types import utcnow


class LeaseLost(StoreError):
    """The lease is held by another holder (or a newer token): this holder must stop writing."""


@dataclass(frozen=True)
class LeaseGrant:
    """A held lease: its name, holder and fencing token."""

    name: str
    holder: str
    token: int


def _check_args(name: str, holder: str, ttl: float) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise StoreValueError("lease name must be 1-200 characters")
    if not isinstance(holder, str) or not 1 <= len(holder) <= 200:
        raise StoreValueError("lease holder must be 1-200 characters")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= 86_400:
        raise StoreValueError(f"lease ttl must be in (0, 86400] seconds, got {ttl!r}")


def _locked(session: Session, name: str) -> Lease | None:
    return session.scalar(select(Lease).where(Lease.name == name).with_for_update())


def acquire_lease(session: Session, name: str, holder: str, ttl: float) -> LeaseGrant | None:
    """Take or renew `name` for `ttl` seconds; None while another holder's lease is live."""
    _check_args(name, holder, ttl)
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    lease = _locked(session, name)
    if lease is None:
        try:
            # A savepoint: a concurrent first insert must not spoil the caller's transaction.
            with session.begin_nested():
                session.add(
                    Lease(name=name, holder=holder, token=1, expires_at=expires, acquired_at=now)
                )
                session.flush()
        except IntegrityError:
            lease = _locked(session, name)
            if lease is None:
                raise
        else:
            return LeaseGrant(name, holder, 1)
    if lease.holder == holder:
        lease.expires_at = expires
    elif lease.expires_at <= now:
        lease.holder, lease.token = holder, lease.token + 1
        lease.expires_at, lease.acquired_at = expires, now
    else:
        return None
    session.flush()
    return LeaseGrant(name, lease.holder, lease.token)


def check_fence(session: Session, grant: LeaseGrant) -> None:
    """Raise LeaseLost unless `grant` still holds its lease; locks the row to the commit."""
    lease = _locked(session, grant.name)
    if lease is None or lease.holder != grant.holder or lease.token != grant.token:
        holder = "nobody" if lease is None else f"{lease.holder} (token {lease.token})"
        raise LeaseLost(f"lease {grant.name} (token {grant.token}) is now held by {holder}")


def release_lease(session: Session, grant: LeaseGrant) -> bool:
    """Let the lease expire now if `grant` still holds it; False if it did not."""
    lease = _locked(session, grant.name)
    if lease is None or lease.holder != grant.holder or lease.token != grant.token:
        return False
    lease.expires_at = utcnow()
    session.flush()
    return True


def lease_holder(session: Session, name: str) -> LeaseGrant | None:
    """The live holder of `name`, or None if it is free or expired."""
    lease = session.get(Lease, name)
    if lease is None or lease.expires_at <= utcnow():
        return None
    return LeaseGrant(lease.name, lease.holder, lease.token)
