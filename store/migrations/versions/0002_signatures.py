"""Signatures and drafts get real columns: brand-signed batches, terms signatures, drafts.

Moves what the skeleton kept in the settings table (commissioning:batch:<root>,
commissioning:refused:<root>, shipment:signatures:<id>, commissioning:draft:<id>) into
anchor_batches, shipments and a new commissioning_drafts table; downgrade moves it back.
Malformed settings values are left where they are.

Revision ID: 0002_signatures
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002_signatures"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH, REFUSED = "commissioning:batch:", "commissioning:refused:"
SIGNATURES, DRAFT = "shipment:signatures:", "commissioning:draft:"

# Lightweight tables for the data moves (revisions never import models).
settings = sa.table(
    "settings",
    sa.column("key", sa.String(200)),
    sa.column("value", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
batches = sa.table(
    "anchor_batches",
    sa.column("root", sa.LargeBinary(32)),
    sa.column("leaf_count", sa.Integer()),
    sa.column("brand_address", sa.String(42)),
    sa.column("brand_signature", sa.LargeBinary()),
    sa.column("relay_refused_at", sa.DateTime(timezone=True)),
    sa.column("relay_error", sa.Text()),
)
shipments = sa.table(
    "shipments",
    sa.column("shipment_id", sa.String(66)),
    sa.column("buyer_signature", sa.LargeBinary()),
    sa.column("payee_signature", sa.LargeBinary()),
)
drafts = sa.table(
    "commissioning_drafts",
    sa.column("id", sa.String(32)),
    sa.column("principal_id", sa.Integer()),
    sa.column("status", sa.String(32)),
    sa.column("draft", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _now() -> datetime:
    return datetime.now(UTC)


def _hex(value: Any, size: int | None = None) -> bytes:
    raw = bytes.fromhex(str(value).removeprefix("0x"))
    if size is not None and len(raw) != size:
        raise ValueError(f"expected {size} bytes, got {len(raw)}")
    return raw


def _settings(conn: sa.Connection, prefix: str) -> list[tuple[str, str, Any]]:
    rows = conn.execute(
        sa.select(settings.c.key, settings.c.value).where(settings.c.key.startswith(prefix))
    )
    return [(key, key.removeprefix(prefix), value) for key, value in rows]


def _moved(conn: sa.Connection, key: str) -> None:
    conn.execute(settings.delete().where(settings.c.key == key))


def _put(conn: sa.Connection, key: str, value: Any) -> None:
    conn.execute(settings.delete().where(settings.c.key == key))
    conn.execute(settings.insert().values(key=key, value=value, created_at=_now()))


def _move_into_columns(conn: sa.Connection) -> None:
    for key, root, value in _settings(conn, BATCH):
        try:
            where = batches.c.root == _hex(root, 32)
            values = {
                "brand_address": str(value["brand"]),
                "brand_signature": _hex(value["signature"], 65),
            }
        except (KeyError, TypeError, ValueError):
            continue
        conn.execute(batches.update().where(where).values(**values))
        _moved(conn, key)
    for key, root, value in _settings(conn, REFUSED):
        try:
            where = batches.c.root == _hex(root, 32)
            error = str(value["error"])
        except (KeyError, TypeError, ValueError):
            continue
        conn.execute(
            batches.update().where(where).values(relay_refused_at=_now(), relay_error=error)
        )
        _moved(conn, key)
    for key, shipment_id, value in _settings(conn, SIGNATURES):
        try:
            values = {
                f"{party}_signature": _hex(value[party], 65)
                for party in ("buyer", "payee")
                if party in value
            }
        except (TypeError, ValueError):
            continue
        if values:
            where = shipments.c.shipment_id == shipment_id.lower()
            conn.execute(shipments.update().where(where).values(**values))
        _moved(conn, key)
    for key, draft_id, value in _settings(conn, DRAFT):
        try:
            created = datetime.fromisoformat(str(value.get("createdAt"))).astimezone(UTC)
            row = {
                "id": draft_id,
                "principal_id": int(value["principalId"]),
                "status": str(value["status"]),
                "draft": value,
                "created_at": created,
            }
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        conn.execute(drafts.insert().values(**row))
        _moved(conn, key)


def _move_back(conn: sa.Connection) -> None:
    draft_of_root = {
        str(row.draft.get("root", "")).lower(): row.id
        for row in conn.execute(sa.select(drafts.c.id, drafts.c.draft))
        if isinstance(row.draft, dict)
    }
    signed = conn.execute(
        sa.select(batches).where(
            batches.c.brand_address.is_not(None), batches.c.brand_signature.is_not(None)
        )
    )
    for batch in signed.mappings().all():
        root = "0x" + bytes(batch["root"]).hex()
        _put(
            conn,
            BATCH + root,
            {
                "leafCount": batch["leaf_count"],
                "brand": batch["brand_address"],
                "signature": "0x" + bytes(batch["brand_signature"]).hex(),
                "commissioningId": draft_of_root.get(root, ""),
            },
        )
        if batch["relay_refused_at"] is not None:
            _put(conn, REFUSED + root, {"error": batch["relay_error"] or ""})
    signed = conn.execute(sa.select(shipments))
    for shipment in signed.mappings().all():
        value = {
            party: "0x" + bytes(shipment[f"{party}_signature"]).hex()
            for party in ("buyer", "payee")
            if shipment[f"{party}_signature"] is not None
        }
        if value:
            _put(conn, SIGNATURES + shipment["shipment_id"], value)
    for draft in conn.execute(sa.select(drafts.c.id, drafts.c.draft)).all():
        _put(conn, DRAFT + draft.id, draft.draft)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "commissioning_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_commissioning_drafts_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commissioning_drafts")),
    )
    with op.batch_alter_table("commissioning_drafts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commissioning_drafts_principal_id"), ["principal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_commissioning_drafts_status"), ["status"], unique=False
        )
    with op.batch_alter_table("anchor_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brand_address", sa.String(length=42), nullable=True))
        batch_op.add_column(sa.Column("brand_signature", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("relay_refused_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("relay_error", sa.Text(), nullable=True))
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buyer_signature", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("payee_signature", sa.LargeBinary(), nullable=True))
    _move_into_columns(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    _move_back(op.get_bind())
    # SQLite drops these columns natively (none is indexed or constrained): no table copy, so
    # the tables keep their CHECK constraints.
    with op.batch_alter_table("shipments", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("payee_signature")
        batch_op.drop_column("buyer_signature")
    with op.batch_alter_table("anchor_batches", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("relay_error")
        batch_op.drop_column("relay_refused_at")
        batch_op.drop_column("brand_signature")
        batch_op.drop_column("brand_address")
    with op.batch_alter_table("commissioning_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commissioning_drafts_status"))
        batch_op.drop_index(batch_op.f("ix_commissioning_drafts_principal_id"))
    op.drop_table("commissioning_drafts")
