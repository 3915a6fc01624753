"""shipments.container_epc: each new shipment's container (logistic unit) EPC, a random
urn:uuid, into which its items are packed at shipping and which its sensor events name instead
of every item. Nullable: shipments stored before keep none, and their events name the items as
before. A unique index (SQLite adds it without copying the table).

Revision ID: 0026_shipment_container
Revises: 0025_code_reports
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_shipment_container"
down_revision: str | None = "0025_code_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite adds and drops an unconstrained column natively: never a table copy, whose DROP TABLE
# shipments would fail on (or cascade to) every event, item link and reading naming one.
def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("shipments", recreate="never") as batch:
        batch.add_column(sa.Column("container_epc", sa.String(length=45), nullable=True))
    op.create_index(op.f("ix_shipments_container_epc"), "shipments", ["container_epc"], unique=True)


def downgrade() -> None:
    """Revert this revision (containers are forgotten; their packing events stay stored)."""
    op.drop_index(op.f("ix_shipments_container_epc"), table_name="shipments")
    with op.batch_alter_table("shipments", recreate="never") as batch:
        batch.drop_column("container_epc")
