"""items: lot (GS1 AI 10) and expiry date (AI 17), from a commissioning's ILMD
(cbvmda:lotNumber, cbvmda:itemExpirationDate). Nullable: items stored before keep no lot, and
the resolver treats an item without a lot as before (the link's lot is not checked).

Revision ID: 0019_item_lot_expiry
Revises: 0018_events_query_indexes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_item_lot_expiry"
down_revision: str | None = "0018_events_query_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite adds and drops these columns natively (neither is indexed or constrained): never a table
# copy, whose DROP TABLE items would fail on (or cascade to) every event and shipment naming one.
def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("items", recreate="never") as batch:
        batch.add_column(sa.Column("lot", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("expiry", sa.Date(), nullable=True))


def downgrade() -> None:
    """Revert this revision (lots and expiry dates are forgotten)."""
    with op.batch_alter_table("items", recreate="never") as batch:
        batch.drop_column("expiry")
        batch.drop_column("lot")
