"""code_reports, code_report_counts: shoppers' reports of codes a registered brand never issued
(issue 16), and how often each code was reported. New tables: nothing stored before changes.

Revision ID: 0025_code_reports
Revises: 0024_link_registry
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_code_reports"
down_revision: str | None = "0024_link_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "code_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("link", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("where_bought", sa.String(length=200), nullable=True),
        sa.Column("client_hash", sa.String(length=32), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_code_reports_brand_id_brands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_reports")),
        sa.UniqueConstraint(
            "gtin", "serial", "client_hash", name=op.f("uq_code_reports_gtin_serial_client_hash")
        ),
    )
    op.create_index(op.f("ix_code_reports_brand_id"), "code_reports", ["brand_id"], unique=False)
    op.create_table(
        "code_report_counts",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("first_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_code_report_counts_brand_id_brands")
        ),
        sa.PrimaryKeyConstraint("gtin", "serial", name=op.f("pk_code_report_counts")),
    )
    op.create_index(
        op.f("ix_code_report_counts_brand_id"), "code_report_counts", ["brand_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_code_report_counts_brand_id"), table_name="code_report_counts")
    op.drop_table("code_report_counts")
    op.drop_index(op.f("ix_code_reports_brand_id"), table_name="code_reports")
    op.drop_table("code_reports")
