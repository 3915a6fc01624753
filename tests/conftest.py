"""Shared fixtures: the database ones (SQLite + PostgreSQL) live in tests/utils/db_fixtures.py.

The repository root is on sys.path through pyproject's `pythonpath`, so `tests.utils` imports
however pytest is started.
"""

import os

import pytest

# tests.utils.browser: one Chromium for the whole session, whichever modules use `browser`.
pytest_plugins = ["tests.utils.db_fixtures", "tests.utils.browser"]

# Tests change an item and read it again at once: without the resolver's answer cache (1 s by
# default) unless a test turns it on (tests/api/test_resolver_cache.py); servers a test starts
# inherit it.
os.environ.setdefault("RESOLVER_CACHE_SECONDS", "0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked slow first (a stable sort, the rest in their order): pytest-xdist's --dist
    loadfile hands files to its processes in this order, and a long one handed out last runs
    alone at the end while the other processes sit idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
