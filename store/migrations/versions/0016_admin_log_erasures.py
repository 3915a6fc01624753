"""admin_log (append-only: triggers refuse UPDATE, DELETE and, on SQLite, an INSERT over an
existing id, which INSERT OR REPLACE would do without firing a DELETE trigger) and
event_erasures.

Two new tables and nothing else: no stored row changes, no table is copied (on SQLite a copy of
a table others reference cascades deletes to them).

Revision ID: 0016_admin_log_erasures
Revises: 0015_key_lifecycle
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_admin_log_erasures"
down_revision: str | None = "0015_key_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSAL = "admin_log is append-only"

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER admin_log_no_{verb.lower()} BEFORE {verb} ON admin_log"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
    for verb in ("UPDATE", "DELETE")
] + [
    "CREATE TRIGGER admin_log_no_replace BEFORE INSERT ON admin_log"
    " WHEN EXISTS (SELECT 1 FROM admin_log WHERE id = NEW.id)"
    f" BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
]
_PG_FUNCTION = (
    "CREATE FUNCTION admin_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    f" $$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
)
_PG_TRIGGER = (
    "CREATE TRIGGER admin_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON admin_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION admin_log_append_only()"
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "admin_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_principal_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_principal_id"],
            ["principals.id"],
            name=op.f("fk_admin_log_actor_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_log")),
    )
    op.create_index(op.f("ix_admin_log_action"), "admin_log", ["action"], unique=False)
    op.create_table(
        "event_erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_erasures_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_erasures")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_erasures_event_id")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    """Revert this revision; refused while it would lose an admin action or an erasure (an
    erased event below 0016 would read as a broken record, its erasure unknown)."""
    conn = op.get_bind()
    for table in ("event_erasures", "admin_log"):
        count = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        if count:
            raise RuntimeError(
                f"{table} holds {count} rows that a downgrade below 0016 would lose: keep this"
                " schema (or export them and drop the table yourself)"
            )
    op.drop_table("event_erasures")
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER admin_log_append_only ON admin_log")
        op.execute("DROP FUNCTION admin_log_append_only()")
    op.drop_index(op.f("ix_admin_log_action"), table_name="admin_log")
    op.drop_table("admin_log")
