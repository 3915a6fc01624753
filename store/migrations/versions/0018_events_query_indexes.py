"""events: indexes for the EPCIS query interface (issue 15): by record time (GE_/LT_recordTime),
by bizStep within an event-time range (EQ_bizStep + GE_/LT_eventTime), and by recorder (who
sees what). Indexes only: no row changes, so a populated store keeps every event as it is.

Revision ID: 0018_events_query_indexes
Revises: 0017_epcis_capture
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_events_query_indexes"
down_revision: str | None = "0017_epcis_capture"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(op.f("ix_events_created_at"), "events", ["created_at"])
    op.create_index(
        op.f("ix_events_biz_step_event_time_ms"), "events", ["biz_step", "event_time_ms"]
    )
    op.create_index(op.f("ix_events_recorded_by"), "events", ["recorded_by"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_events_recorded_by"), table_name="events")
    op.drop_index(op.f("ix_events_biz_step_event_time_ms"), table_name="events")
    op.drop_index(op.f("ix_events_created_at"), table_name="events")
