"""capture_jobs (EPCIS capture jobs) and event_capturers (further capturers of a stored event).

Two new tables and nothing else: no stored row changes.

Revision ID: 0017_epcis_capture
Revises: 0016_admin_log_erasures
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_epcis_capture"
down_revision: str | None = "0016_admin_log_erasures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "capture_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.String(length=40), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_behaviour", sa.String(length=16), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_capture_jobs_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_jobs")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_capture_jobs_capture_id")),
    )
    op.create_index(
        op.f("ix_capture_jobs_principal_id"), "capture_jobs", ["principal_id"], unique=False
    )
    op.create_table(
        "event_capturers",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_capturers_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_event_capturers_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("event_id", "principal_id", name=op.f("pk_event_capturers")),
    )


def downgrade() -> None:
    """Revert this revision (capture jobs and further capturers are dropped)."""
    op.drop_table("event_capturers")
    op.drop_index(op.f("ix_capture_jobs_principal_id"), table_name="capture_jobs")
    op.drop_table("capture_jobs")
