"""escrow_view per (shipment id, escrow contract): the follower follows v1 and v2 side by side.

A shipment id is unique within one escrow, not across releases: ShipmentEscrow v1 and v2 could
each hold a deposit under the same id (a v1 funding squatting a v2 shipment's id). Keyed by the
id alone, the later event of either contract overwrote the other's row. Each row now belongs to
one contract; readers pick the row whose terms hash is the shipment's (v1 and v2 terms hashes
never coincide: their type hashes differ). Existing rows were all folded from the one escrow
followed before, which their logs name.

Revision ID: 0011_escrow_view_per_contract
Revises: 0010_shipment_escrow_version
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_escrow_view_per_contract"
down_revision: str | None = "0010_shipment_escrow_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("escrow_view", sa.Column("contract", sa.String(length=42), nullable=True))
    op.execute(
        "UPDATE escrow_view SET contract = coalesce((SELECT l.contract FROM chain_logs l"
        " WHERE l.subject = escrow_view.shipment_id"
        " ORDER BY l.block_number, l.log_index LIMIT 1), '')"
    )
    # escrow_view is referenced by no foreign key: SQLite may copy it in batch mode.
    with op.batch_alter_table("escrow_view", recreate="always") as batch:
        batch.alter_column("contract", existing_type=sa.String(length=42), nullable=False)
        batch.drop_constraint("pk_escrow_view", type_="primary")
        batch.create_primary_key("pk_escrow_view", ["shipment_id", "contract"])


def downgrade() -> None:
    """Revert this revision (refused while a shipment id has rows of two contracts)."""
    conn = op.get_bind()
    shared = conn.execute(
        sa.text(
            "SELECT count(*) FROM (SELECT shipment_id FROM escrow_view"
            " GROUP BY shipment_id HAVING count(*) > 1) AS s"
        )
    ).scalar()
    if shared:
        raise RuntimeError(
            f"{shared} shipment ids are held by two escrow contracts: a schema before 0011 "
            "keeps one row per id"
        )
    with op.batch_alter_table("escrow_view", recreate="always") as batch:
        batch.drop_constraint("pk_escrow_view", type_="primary")
        batch.create_primary_key("pk_escrow_view", ["shipment_id"])
        batch.drop_column("contract")
