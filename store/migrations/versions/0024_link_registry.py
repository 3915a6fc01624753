"""resolver_links: the link registry (issue 16): links a brand registers for a GTIN, a lot or a
serial (link type, href, title, hreflang, media type). A new table: nothing stored before
changes.

Revision ID: 0024_link_registry
Revises: 0023_leaf_kinds
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_link_registry"
down_revision: str | None = "0023_leaf_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "resolver_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("link_type", sa.String(length=100), nullable=False),
        sa.Column("href", sa.String(length=1024), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("hreflang", sa.JSON(), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_resolver_links_brand_id_brands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolver_links")),
    )
    op.create_index(
        op.f("ix_resolver_links_brand_id"), "resolver_links", ["brand_id"], unique=False
    )
    op.create_index(
        "ix_resolver_links_key", "resolver_links", ["gtin", "lot", "serial"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_resolver_links_key", table_name="resolver_links")
    op.drop_index(op.f("ix_resolver_links_brand_id"), table_name="resolver_links")
    op.drop_table("resolver_links")
