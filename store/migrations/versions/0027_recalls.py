"""recalls: the subjects (item, lot, product) of recalls the prefix's brand recorded (issue 17).
A new table: nothing stored before changes (no recall was recorded as one before).

Revision ID: 0027_recalls
Revises: 0026_shipment_container
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_recalls"
down_revision: str | None = "0026_shipment_container"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "recalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("recalled_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_recalls_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["principals.id"], name=op.f("fk_recalls_recorded_by_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recalls")),
    )
    op.create_index(op.f("ix_recalls_event_id"), "recalls", ["event_id"], unique=False)
    op.create_index(op.f("ix_recalls_gtin"), "recalls", ["gtin"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_recalls_gtin"), table_name="recalls")
    op.drop_index(op.f("ix_recalls_event_id"), table_name="recalls")
    op.drop_table("recalls")
