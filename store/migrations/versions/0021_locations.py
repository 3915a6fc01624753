"""locations: location master data (issue 15): a GLN or SGLN, its name, a coarse position
(hundredths of a degree), whether it is public, and the principal who registered it. A new
table: nothing stored before changes.

Revision ID: 0021_locations
Revises: 0020_epcis_subscriptions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_locations"
down_revision: str | None = "0020_epcis_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.String(length=80), nullable=False),
        sa.Column("gln", sa.String(length=13), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("lat_centi", sa.Integer(), nullable=True),
        sa.Column("lon_centi", sa.Integer(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("owner_principal_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_principal_id"],
            ["principals.id"],
            name=op.f("fk_locations_owner_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("location_id", name=op.f("uq_locations_location_id")),
    )
    op.create_index(op.f("ix_locations_gln"), "locations", ["gln"], unique=False)
    op.create_index(
        op.f("ix_locations_owner_principal_id"), "locations", ["owner_principal_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_locations_owner_principal_id"), table_name="locations")
    op.drop_index(op.f("ix_locations_gln"), table_name="locations")
    op.drop_table("locations")
