"""Principals and API keys: secrets shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib

import pytest
from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.errors import NotFoundError, StoreValueError
from store.models import ApiKey, Principal, Role
from store.principals import (
    create_api_key,
    create_principal,
    hash_api_key,
    principal_for_key,
    revoke_api_key,
)
from tests.utils.store_factories import random_address


def test_api_key_round_trip(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        carrier = create_principal(session, "Carrier One", Role.CARRIER)
        secret = create_api_key(session, carrier.id, "laptop")
        carrier_id = carrier.id
    assert secret.startswith("ct_") and len(secret) == 3 + 43
    with db_sessions() as session:
        found = principal_for_key(session, secret)
        assert found is not None and found.id == carrier_id and found.role is Role.CARRIER
        (stored,) = session.scalars(select(ApiKey)).all()
        # Only the hash is stored.
        assert (
            stored.key_hash == hashlib.sha256(secret.encode()).hexdigest() == hash_api_key(secret)
        )
        assert secret not in {stored.key_hash, stored.label}
        assert stored.label == "laptop" and stored.revoked_at is None


def test_each_key_is_distinct_and_bound_to_its_principal(db_session: Session) -> None:
    alice = create_principal(db_session, "alice", "brand")
    bob = create_principal(db_session, "bob", "auditor")
    keys = {create_api_key(db_session, alice.id, f"k{i}") for i in range(3)}
    bob_key = create_api_key(db_session, bob.id)
    assert len(keys) == 3
    assert all(principal_for_key(db_session, key) is alice for key in keys)
    assert principal_for_key(db_session, bob_key) is bob


@pytest.mark.parametrize(
    "secret", ["", "ct_", "ct_unknown", "nope", "ct_" + "a" * 500, None, 42, b"ct_x"]
)
def test_unknown_or_malformed_keys_find_nobody(db_session: Session, secret: object) -> None:
    create_api_key(db_session, create_principal(db_session, "p", Role.BUYER).id)
    assert principal_for_key(db_session, secret) is None  # type: ignore[arg-type]


def test_revoked_key_stops_working(db_session: Session) -> None:
    principal = create_principal(db_session, "p", Role.BUYER)
    keep = create_api_key(db_session, principal.id)
    drop = create_api_key(db_session, principal.id)
    assert revoke_api_key(db_session, drop)
    assert not revoke_api_key(db_session, drop)
    assert principal_for_key(db_session, drop) is None
    assert principal_for_key(db_session, keep) is principal


def test_key_for_missing_principal(db_session: Session) -> None:
    with pytest.raises(NotFoundError):
        create_api_key(db_session, 999_999)


def test_principal_validation(db_session: Session) -> None:
    with pytest.raises(StoreValueError):
        create_principal(db_session, "x", "superuser")
    with pytest.raises(StoreValueError):
        create_principal(db_session, "  ", Role.ADMIN)
    with pytest.raises(StoreValueError):
        create_principal(db_session, "x", Role.ADMIN, "0xnot-an-address")
    wallet = random_address()
    principal = create_principal(db_session, "x", Role.ADMIN, wallet)
    assert principal.wallet_address == to_checksum_address(wallet)


def test_wallet_is_unique_whatever_its_case(db_sessions: sessionmaker[Session]) -> None:
    wallet = random_address()
    with transaction(db_sessions) as session:
        create_principal(session, "first", Role.BUYER, wallet)
    with pytest.raises(IntegrityError), transaction(db_sessions) as session:
        create_principal(session, "second", Role.BUYER, wallet.upper().replace("0X", "0x"))
    with db_sessions() as session:
        assert len(session.scalars(select(Principal)).all()) == 1
