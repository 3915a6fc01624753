"""Bootstrapping: the first admin principal and its API key, created directly in the store."""

from __future__ import annotations

from store.db import make_engine, session_factory, transaction
from store.principals import create_api_key, create_principal


def create_admin_key(database_url: str, name: str, wallet_address: str | None = None) -> str:
    """Create an admin principal and return its API key (shown once, stored only hashed)."""
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            admin = create_principal(session, name, "admin", wallet_address)
            return create_api_key(session, admin.id, "bootstrap")
    finally:
        engine.dispose()
