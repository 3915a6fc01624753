"""API keys expire and say when they were last used; principals can be disabled.

api_keys.expires_at (NULL: never), api_keys.last_used_at (NULL: not yet), principals.disabled_at
(NULL: enabled). Every key and principal stored before stays live.

Revision ID: 0015_key_lifecycle
Revises: 0014_chain_logs_event_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_key_lifecycle"
down_revision: str | None = "0014_chain_logs_event_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite adds and drops these columns natively (none is indexed or constrained): never a table
# copy, whose DROP TABLE principals would cascade to every API key.


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("api_keys", recreate="never") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("principals", recreate="never") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision (expiry, last use and disabling are forgotten)."""
    with op.batch_alter_table("principals", recreate="never") as batch:
        batch.drop_column("disabled_at")
    with op.batch_alter_table("api_keys", recreate="never") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
