"""product_contents: a brand's content for a product per language (name, description, a
re-encoded image, contact), at most one default per product. A new table: nothing stored
before changes.

Revision ID: 0028_product_content
Revises: 0027_recalls
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_product_content"
down_revision: str | None = "0027_recalls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "product_contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=35), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("image_type", sa.String(length=20), nullable=True),
        sa.Column("image_width", sa.Integer(), nullable=True),
        sa.Column("image_height", sa.Integer(), nullable=True),
        sa.Column("contact_url", sa.String(length=500), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(image IS NULL) = (image_type IS NULL)",
            name=op.f("ck_product_contents_image_has_type"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_contents_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["principals.id"],
            name=op.f("fk_product_contents_updated_by_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_contents")),
        sa.UniqueConstraint("product_id", "lang", name=op.f("uq_product_contents_product_id_lang")),
    )
    op.create_index(
        "uq_product_contents_default",
        "product_contents",
        ["product_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )


def downgrade() -> None:
    """Revert this revision (every product's content is dropped)."""
    op.drop_index("uq_product_contents_default", table_name="product_contents")
    op.drop_table("product_contents")
