"""Revision 0002_signatures moves the skeleton's settings-table records into columns and back."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from store.db import downgrade, make_engine, upgrade

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ROOT, REFUSED_ROOT, BAD_ROOT = (secrets.token_bytes(32) for _ in range(3))
BRAND = "0x" + "Ab" * 20
SHIPMENT = "0x" + "5e" * 32
BRAND_SIG, BUYER_SIG, PAYEE_SIG = (secrets.token_bytes(65) for _ in range(3))
DRAFT_TIME = NOW - timedelta(hours=30)

settings = sa.table(
    "settings",
    sa.column("key", sa.String),
    sa.column("value", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_meta = sa.MetaData()


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _skeleton_rows(conn: sa.Connection) -> None:
    """What the skeleton wrote: rows at revision 0001 plus its settings-table records."""
    conn.execute(
        sa.text(
            "INSERT INTO principals (id, name, role, created_at) VALUES "
            "(1, 'brand', 'brand', :t), (2, 'carrier', 'carrier', :t), (3, 'buyer', 'buyer', :t)"
        ),
        {"t": NOW},
    )
    conn.execute(
        sa.text(
            "INSERT INTO anchor_batches (root, leaf_count, status, created_at) "
            "VALUES (:r1, 3, 'pending', :t), (:r2, 3, 'failed', :t), (:r3, 1, 'pending', :t)"
        ),
        {"r1": ROOT, "r2": REFUSED_ROOT, "r3": BAD_ROOT, "t": NOW},
    )
    conn.execute(
        sa.text(
            "INSERT INTO shipments (shipment_id, carrier_principal_id, consignee_principal_id, "
            "payee_address, buyer_address, terms_json, terms_hash, origin, destination, status, "
            "created_at) VALUES (:id, 2, 3, :a, :a, '{}', :h, '', '', 'created', :t)"
        ),
        {"id": SHIPMENT, "a": BRAND, "h": "0x" + "00" * 32, "t": NOW},
    )
    draft = {"id": "d1", "status": "awaiting_signature", "principalId": 1, "root": _hex(ROOT)}
    draft["createdAt"] = DRAFT_TIME.isoformat().replace("+00:00", "Z")
    signed = {"leafCount": 3, "brand": BRAND, "signature": _hex(BRAND_SIG), "commissioningId": "d1"}
    records: dict[str, Any] = {
        f"commissioning:batch:{_hex(ROOT)}": signed,
        f"commissioning:batch:{_hex(REFUSED_ROOT)}": {**signed, "commissioningId": "x"},
        f"commissioning:refused:{_hex(REFUSED_ROOT)}": {"error": "AnchorInvalidSignature()"},
        # Malformed: stays in the settings table rather than being lost or crashing the upgrade.
        f"commissioning:batch:{_hex(BAD_ROOT)}": {"brand": BRAND, "signature": "0x1234"},
        f"shipment:signatures:{SHIPMENT}": {"buyer": _hex(BUYER_SIG), "payee": _hex(PAYEE_SIG)},
        "commissioning:draft:d1": draft,
        "deployment": {"chainId": 31337},
    }
    for key, value in records.items():
        conn.execute(settings.insert().values(key=key, value=value, created_at=NOW))


def _utc(value: datetime | str) -> datetime:
    # SQLite hands back the stored UTC text without a zone, PostgreSQL an aware datetime.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _keys(conn: sa.Connection) -> set[str]:
    return set(conn.scalars(sa.select(settings.c.key)))


def test_upgrade_moves_records_into_columns_and_downgrade_moves_them_back(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "0001")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            _skeleton_rows(conn)
            before = {
                key: conn.scalar(sa.select(settings.c.value).where(settings.c.key == key))
                for key in _keys(conn)
            }
        upgrade(empty_db_url, "0002_signatures")
        with engine.connect() as conn:
            assert _keys(conn) == {"deployment", f"commissioning:batch:{_hex(BAD_ROOT)}"}
            batches = sa.Table("anchor_batches", _meta, autoload_with=conn)
            rows = {bytes(r.root): r for r in conn.execute(sa.select(batches)).mappings().all()}
            assert rows[ROOT]["brand_address"] == BRAND
            assert bytes(rows[ROOT]["brand_signature"]) == BRAND_SIG
            assert rows[ROOT]["relay_refused_at"] is None
            assert rows[REFUSED_ROOT]["relay_error"] == "AnchorInvalidSignature()"
            assert rows[REFUSED_ROOT]["relay_refused_at"] is not None
            assert rows[BAD_ROOT]["brand_address"] is None
            shipment = conn.execute(
                sa.text("SELECT buyer_signature, payee_signature FROM shipments")
            ).one()
            assert (bytes(shipment[0]), bytes(shipment[1])) == (BUYER_SIG, PAYEE_SIG)
            draft = conn.execute(
                sa.text("SELECT id, principal_id, status, created_at FROM commissioning_drafts")
            ).one()
            assert draft[:3] == ("d1", 1, "awaiting_signature")
            assert _utc(draft[3]) == DRAFT_TIME
        downgrade(empty_db_url, "0001")
        with engine.connect() as conn:
            after = {
                key: conn.scalar(sa.select(settings.c.value).where(settings.c.key == key))
                for key in _keys(conn)
            }
            columns = {c["name"] for c in sa.inspect(conn).get_columns("anchor_batches")}
        assert "brand_signature" not in columns
        assert after.keys() == before.keys()
        refused_key = f"commissioning:batch:{_hex(REFUSED_ROOT)}"
        # The commissioning id is found again through the draft's root (none for the other).
        assert after.pop(refused_key) == {**before.pop(refused_key), "commissioningId": ""}
        assert after == before
    finally:
        engine.dispose()
