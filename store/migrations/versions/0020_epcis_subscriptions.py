"""epcis_named_queries, epcis_subscriptions and epcis_deliveries (the subscriptions' outbox) for
the EPCIS 2.0 named queries and webhook subscriptions (issue 15).

Three new tables and nothing else: no stored row changes.

Revision ID: 0020_epcis_subscriptions
Revises: 0019_item_lot_expiry
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_epcis_subscriptions"
down_revision: str | None = "0019_item_lot_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "epcis_named_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_epcis_named_queries_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_named_queries")),
        sa.UniqueConstraint(
            "principal_id", "name", name=op.f("uq_epcis_named_queries_principal_id_name")
        ),
    )
    op.create_table(
        "epcis_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("dest", sa.String(length=2048), nullable=False),
        sa.Column("signature_token", sa.String(length=512), nullable=True),
        sa.Column("report_if_empty", sa.Boolean(), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("initial_record_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor_event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_epcis_subscriptions_principal_id_principals"),
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["epcis_named_queries.id"],
            name=op.f("fk_epcis_subscriptions_query_id_epcis_named_queries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_subscriptions")),
        sa.UniqueConstraint("subscription_id", name=op.f("uq_epcis_subscriptions_subscription_id")),
    )
    with op.batch_alter_table("epcis_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_epcis_subscriptions_query_id"), ["query_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_epcis_subscriptions_next_run_at"), ["next_run_at"], unique=False
        )

    op.create_table(
        "epcis_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["epcis_subscriptions.id"],
            name=op.f("fk_epcis_deliveries_subscription_id_epcis_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_deliveries")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_epcis_deliveries_delivery_id")),
    )
    with op.batch_alter_table("epcis_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_epcis_deliveries_delivered_at_next_attempt_at"),
            ["delivered_at", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_epcis_deliveries_subscription_id_delivered_at_id"),
            ["subscription_id", "delivered_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision (named queries, subscriptions and pending deliveries are dropped)."""
    with op.batch_alter_table("epcis_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_epcis_deliveries_subscription_id_delivered_at_id"))
        batch_op.drop_index(batch_op.f("ix_epcis_deliveries_delivered_at_next_attempt_at"))

    op.drop_table("epcis_deliveries")
    with op.batch_alter_table("epcis_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_epcis_subscriptions_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_epcis_subscriptions_query_id"))

    op.drop_table("epcis_subscriptions")
    op.drop_table("epcis_named_queries")
