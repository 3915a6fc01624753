"""shipments.escrow_version, carrier_signature, fund_by; readings by (device, time): escrow v2.

Every shipment stored before this revision was funded (or is to be funded) under Terms v1 on
ShipmentEscrow v1, so existing rows get escrow_version 1 and keep settling there; v2 shipments
also keep the carrier's signature over the terms (DESIGN: buyer, payee and carrier sign) and
the terms' fundBy (an unfunded shipment past it holds no items) and the reading digests behind
an attested evidence root (a dispute proves readings into it though more arrive later).

Revision ID: 0010_shipment_escrow_version
Revises: 0009_dead_letters_reason_id
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_shipment_escrow_version"
down_revision: str | None = "0009_dead_letters_reason_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Plain ALTER TABLE on both dialects: SQLite's batch mode would copy and drop `shipments`,
    # which the rows of events, readings and shipment_devices reference.
    op.add_column(
        "shipments", sa.Column("escrow_version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("shipments", sa.Column("carrier_signature", sa.LargeBinary(), nullable=True))
    op.add_column("shipments", sa.Column("fund_by", sa.BigInteger(), nullable=True))
    op.add_column("shipments", sa.Column("attested_evidence", sa.LargeBinary(), nullable=True))
    # Escrow v2 selects readings by device and time, not by the shipment they were filed under.
    op.create_index(
        "ix_readings_device_address_taken_at_ms", "readings", ["device_address", "taken_at_ms"]
    )


def downgrade() -> None:
    """Revert this revision (refused while a v2 shipment is stored: it would read as v1)."""
    conn = op.get_bind()
    v2 = conn.execute(sa.text("SELECT count(*) FROM shipments WHERE escrow_version = 2")).scalar()
    if v2:
        raise RuntimeError(
            f"{v2} shipments use ShipmentEscrow v2: a schema before 0010 cannot tell them from v1"
        )
    op.drop_index("ix_readings_device_address_taken_at_ms", table_name="readings")
    # SQLite >= 3.35 drops a column in place.
    for column in ("attested_evidence", "fund_by", "carrier_signature", "escrow_version"):
        op.execute(f"ALTER TABLE shipments DROP COLUMN {column}")
