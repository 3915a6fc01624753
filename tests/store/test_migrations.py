"""Alembic migrations create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table

from store.db import downgrade, make_engine, upgrade
from store.models import Base


def _diff(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_exactly_the_models_schema(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert _tables(empty_db_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert _diff(empty_db_url, Base.metadata) == []


def test_comparison_sees_a_schema_difference(empty_db_url: str) -> None:
    # Guards the test above against a comparison that finds nothing whatever the schema.
    upgrade(empty_db_url)
    extended = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extended)
    Table("not_migrated", extended, Column("id", Integer, primary_key=True))
    diff = _diff(empty_db_url, extended)
    assert [entry[0] for entry in diff] == ["add_table"]  # type: ignore[index]


def test_upgrade_twice_is_a_no_op_and_downgrade_drops_everything(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    upgrade(empty_db_url)
    assert _diff(empty_db_url, Base.metadata) == []
    downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == {"alembic_version"}
    upgrade(empty_db_url)
    assert _diff(empty_db_url, Base.metadata) == []


def test_revision_files_import_no_model_code() -> None:
    # A revision must keep describing its own schema after the models change.
    from pathlib import Path

    import store.migrations

    versions = Path(store.migrations.__file__).parent / "versions"
    revisions = sorted(versions.glob("*.py"))
    assert revisions
    for path in revisions:
        text = path.read_text()
        assert "store.models" not in text and "from store" not in text, path.name
