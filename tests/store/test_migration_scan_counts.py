"""Revision 0029_scan_counts on a store populated by 0028: items keep working, the new table
takes per-item, per-day counts (one row per item and day, only for stored items), and a
downgrade drops only it. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import downgrade, make_engine, upgrade
from store.models import Base

REVISION = "0029_scan_counts"
PREVIOUS = "0028_product_content"


def test_0029_adds_scan_counts_beside_a_populated_store(empty_db_url: str) -> None:
    upgrade(empty_db_url, PREVIOUS)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('brand', 'brand', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO brands (principal_id, name, company_prefix, created_at)"
                    " VALUES ((SELECT id FROM principals), 'Brand', '0614141', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO products (brand_id, gtin, name, created_at)"
                    " VALUES ((SELECT id FROM brands), '00614141123452', 'Tea', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO items (product_id, serial, lot, created_at)"
                    " VALUES ((SELECT id FROM products), 'OLD1', 'L1', CURRENT_TIMESTAMP)"
                )
            )
            item = conn.execute(sa.text("SELECT id FROM items")).scalar_one()
        upgrade(empty_db_url, REVISION)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            scan_diff = [
                d for d in compare_metadata(context, Base.metadata) if "scan_counts" in str(d)
            ]
        assert scan_diff == []
        with engine.begin() as conn:
            insert = sa.text("INSERT INTO scan_counts (item_id, day, scans) VALUES (:i, :d, :n)")
            conn.execute(insert, {"i": item, "d": "2026-12-06", "n": 3})
            conn.execute(insert, {"i": item, "d": "2026-12-07", "n": 1})
            with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
                conn.execute(insert, {"i": item, "d": "2026-12-06", "n": 1})  # one row a day
            with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
                conn.execute(insert, {"i": item + 1000, "d": "2026-12-06", "n": 1})  # no item
            total = conn.execute(sa.text("SELECT sum(scans) FROM scan_counts")).scalar_one()
            assert total == 4
            assert conn.execute(sa.text("SELECT serial, lot FROM items")).one() == ("OLD1", "L1")
        downgrade(empty_db_url, PREVIOUS)
        with engine.connect() as conn:
            assert "scan_counts" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one() == 1
    finally:
        engine.dispose()
