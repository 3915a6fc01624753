"""leaves take a kind, an EPC and a projection: beside each event's own leaf (kind 0/1), one kind 2
leaf per EPC an object, aggregation or transformation event names, over the CBV hash of its
public projection (DESIGN "Public and private views").

Every stored leaf is its event's own: kind = the event's kind, epc '' (not NULL, so the new
unique key (event_id, kind, epc) holds on SQLite and PostgreSQL alike), projection_json NULL.
The kind 2 leaves of events stored before come from `chaintrace backfill-projections`, not from
this migration (they are computed with the public locations and core.epcis.projection, which a
migration must not import). The downgrade refuses while kind 2 leaves exist: dropping them
would lose leaves that may be anchored.

Revision ID: 0023_leaf_kinds
Revises: 0022_event_epc_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_leaf_kinds"
down_revision: str | None = "0022_event_epc_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.SmallInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("epc", sa.String(length=512), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("projection_json", sa.Text(), nullable=True))
    op.execute(
        "UPDATE leaves SET kind ="
        " (SELECT events.kind FROM events WHERE events.id = leaves.event_id)"
    )
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.SmallInteger(), nullable=False)
        batch_op.drop_constraint("uq_leaves_event_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_leaves_event_id_kind_epc", ["event_id", "kind", "epc"]
        )


def downgrade() -> None:
    """Revert this revision (refused while kind 2 leaves are stored)."""
    bind = op.get_bind()
    members = bind.execute(sa.text("SELECT count(*) FROM leaves WHERE kind >= 2")).scalar_one()
    if members:
        raise RuntimeError(
            f"{members} kind 2 leaves are stored (some may be anchored): a downgrade below"
            " 0023_leaf_kinds would drop them"
        )
    with op.batch_alter_table("leaves", schema=None) as batch_op:
        batch_op.drop_constraint("uq_leaves_event_id_kind_epc", type_="unique")
        batch_op.create_unique_constraint("uq_leaves_event_id", ["event_id"])
        batch_op.drop_column("projection_json")
        batch_op.drop_column("epc")
        batch_op.drop_column("kind")
