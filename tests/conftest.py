"""Shared fixtures. Database fixtures live in tests/utils/db_fixtures.py (SQLite + PostgreSQL)."""

import sys
from pathlib import Path

# `tests.utils` must import however pytest is started (python -m pytest or the pytest script).
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.utils.db_fixtures import (  # noqa: E402
    db_engine,
    db_session,
    db_sessions,
    db_url,
    empty_db_url,
    pg_db_url,
    pg_engine,
    postgres_server,
    postgres_template_url,
    postgres_url,
    sqlite_file_url,
)

__all__ = [
    "db_engine",
    "db_session",
    "db_sessions",
    "db_url",
    "empty_db_url",
    "pg_db_url",
    "pg_engine",
    "postgres_server",
    "postgres_template_url",
    "postgres_url",
    "sqlite_file_url",
]
