"""custody_approvals: who approved listing the items they hold in a shipment.

An item may be shipped only with its custodian's consent (the brand after commissioning, else
the consignee of its last delivered shipment): the custodian is the shipment's buyer or carrier,
or has approved the shipment (a row here). Shipments stored before this revision have no rows:
their items' custodians are judged when they are funded, and funded shipments are not touched.

Revision ID: 0012_custody_approvals
Revises: 0011_escrow_view_per_contract
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_custody_approvals"
down_revision: str | None = "0011_escrow_view_per_contract"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "shipments",
        sa.Column("custody_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "custody_approvals",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_custody_approvals_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_custody_approvals_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("shipment_id", "principal_id", name=op.f("pk_custody_approvals")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("custody_approvals")
    op.execute("ALTER TABLE shipments DROP COLUMN custody_required")
