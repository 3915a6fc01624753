"""Alembic migration environment of the store (script_location = store:migrations)."""
