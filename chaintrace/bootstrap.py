"""The admin's principal commands, straight on the store: the first admin and its API key,
a principal's keys (list, revoke), its wallet and whether it is disabled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.admin_log import Actor, record_admin_action
from store.db import make_engine, session_factory, transaction
from store.models import ApiKey, Principal
from store.principals import (
    api_keys_of,
    create_api_key,
    create_principal,
    revoke_api_key_by_id,
    set_disabled,
    set_wallet,
)


def create_admin_key(database_url: str, name: str, wallet_address: str | None = None) -> str:
    """Create an admin principal and return its API key (shown once, stored only hashed)."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            admin = create_principal(session, name, "admin", wallet_address)
            secret = create_api_key(session, admin.id, "bootstrap")
            details = {"name": name, "role": "admin", "wallet": admin.wallet_address}
            target = f"principal {admin.id}"
            actor = Actor.cli()
            record_admin_action(session, actor, "principal.create", target, details)
            key_details = {"label": "bootstrap", "expiresAt": None}  # as the API logs a key
            record_admin_action(session, actor, "api_key.create", target, key_details)
            return secret
    finally:
        engine.dispose()


def _key_row(key: ApiKey) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "id": key.id,
        "label": key.label,
        "created": when(key.created_at),
        "expires": when(key.expires_at),
        "lastUsed": when(key.last_used_at),
        "revoked": when(key.revoked_at),
    }


def list_keys(database_url: str, principal_id: int) -> list[dict[str, Any]]:
    """A principal's API keys, as `chaintrace principals keys` prints them."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            return [_key_row(key) for key in api_keys_of(session, principal_id)]
    finally:
        engine.dispose()


def revoke_key(database_url: str, principal_id: int, key_id: int) -> dict[str, Any]:
    """Revoke one of a principal's keys by id."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            key = revoke_api_key_by_id(session, principal_id, key_id)
            target = f"principal {principal_id} key {key_id}"
            record_admin_action(session, Actor.cli(), "api_key.revoke", target)
            return _key_row(key)
    finally:
        engine.dispose()


def update_principal(
    database_url: str, principal_id: int, wallet: str | None, disabled: bool | None
) -> dict[str, Any]:
    """Set a principal's wallet and/or disable or enable it; its state after."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            principal = set_wallet(session, principal_id, wallet) if wallet else None
            if disabled is not None:
                principal = set_disabled(session, principal_id, disabled)
            if principal is None:
                principal = session.get_one(Principal, principal_id)
            changes: dict[str, Any] = {} if wallet is None else {"walletAddress": wallet}
            if disabled is not None:
                changes["disabled"] = disabled
            target = f"principal {principal_id}"
            record_admin_action(session, Actor.cli(), "principal.update", target, changes)
            disabled_at = principal.disabled_at
            return {
                "id": principal.id,
                "name": principal.name,
                "role": str(principal.role),
                "walletAddress": principal.wallet_address,
                "disabledAt": None if disabled_at is None else disabled_at.isoformat(),
            }
    finally:
        engine.dispose()
