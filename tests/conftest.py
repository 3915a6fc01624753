"""Shared fixtures: the database ones (SQLite + PostgreSQL) live in tests/utils/db_fixtures.py.

The repository root is on sys.path through pyproject's `pythonpath`, so `tests.utils` imports
however pytest is started.
"""

# tests.utils.browser: one Chromium for the whole session, whichever modules use `browser`.
pytest_plugins = ["tests.utils.db_fixtures", "tests.utils.browser"]
