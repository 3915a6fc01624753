"""0028_product_content on a store populated by 0027: products keep everything; content is
stored per (product, language), one default per product; a downgrade drops only the table."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from store.db import alembic_config, downgrade, make_engine, upgrade

_REVISION = "0028_product_content"

_INSERT = sa.text(
    "INSERT INTO product_contents (product_id, lang, is_default, name, description, image,"
    " image_type, updated_at, updated_by, created_at) VALUES (:product, :lang, :default,"
    " :name, NULL, :image, :type, CURRENT_TIMESTAMP, :by, CURRENT_TIMESTAMP)"
)


def test_0028_adds_product_content_beside_a_populated_store(empty_db_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_db_url))
    previous = script.get_revision(_REVISION).down_revision
    assert previous == "0027_recalls"
    upgrade(empty_db_url, previous)
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO principals (name, role, created_at)"
                    " VALUES ('brand', 'brand', CURRENT_TIMESTAMP)"
                )
            )
            by = conn.execute(sa.text("SELECT id FROM principals")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO brands (principal_id, name, company_prefix, created_at)"
                    " VALUES (:by, 'Brand', '0614141', CURRENT_TIMESTAMP)"
                ),
                {"by": by},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO products (brand_id, gtin, name, created_at) VALUES"
                    " ((SELECT id FROM brands), '00614141123452', 'Tea', CURRENT_TIMESTAMP)"
                )
            )
            product = conn.execute(sa.text("SELECT id FROM products")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO items (product_id, serial, lot, created_at)"
                    " VALUES (:product, 'OLD1', 'L1', CURRENT_TIMESTAMP)"
                ),
                {"product": product},
            )
        upgrade(empty_db_url, _REVISION)
        row = {"product": product, "by": by, "image": None, "type": None}
        with engine.begin() as conn:
            conn.execute(_INSERT, {**row, "lang": "en", "default": True, "name": "Tea"})
            conn.execute(
                _INSERT,
                {
                    **row,
                    "lang": "zh-Hans",
                    "default": False,
                    "name": "茶",
                    "image": b"RIFF",
                    "type": "image/webp",
                },
            )
            stored = conn.execute(
                sa.text("SELECT lang, name, image FROM product_contents ORDER BY lang")
            ).all()
            assert [(r[0], r[1], r[2] and bytes(r[2])) for r in stored] == [
                ("en", "Tea", None),
                ("zh-Hans", "茶", b"RIFF"),
            ]
            assert conn.execute(sa.text("SELECT serial, lot FROM items")).one() == ("OLD1", "L1")
        for bad in (
            {**row, "lang": "en", "default": False, "name": "again"},  # one row per language
            {**row, "lang": "fr", "default": True, "name": "Thé"},  # one default per product
            {**row, "lang": "de", "default": False, "name": "Tee", "image": b"x"},  # no type
        ):
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(_INSERT, bad)
        downgrade(empty_db_url, previous)
        with engine.connect() as conn:
            assert "product_contents" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT name FROM products")).scalar_one() == "Tea"
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one() == 1
    finally:
        engine.dispose()
