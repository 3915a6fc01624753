"""Shared fixtures: the database ones (SQLite + PostgreSQL) live in tests/utils/db_fixtures.py.

The repository root is on sys.path through pyproject's `pythonpath`, so `tests.utils` imports
however pytest is started.
"""

pytest_plugins = ["tests.utils.db_fixtures", "tests.utils.browser"]
