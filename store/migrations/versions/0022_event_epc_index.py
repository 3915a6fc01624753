"""event_epcs: the EPC -> event index of the EPCIS query (MATCH_epc, MATCH_anyEPC...), backfilled
from the stored events' JSON. bench/epcis_query.py measured MATCH_epc on 1,000,000 events as a
scan of every event's text; the index makes it a seek. No stored row changes.

Revision ID: 0022_event_epc_index
Revises: 0021_locations
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0022_event_epc_index"
down_revision: str | None = "0021_locations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As store/epc_index.py had them at this revision (a migration keeps its own copy).
_FIELDS = {"epcList": 0, "childEPCs": 0, "parentID": 1, "inputEPCList": 2, "outputEPCList": 3}
_MAX_EPC = 512
_BATCH = 5_000  # events read per round


def _entries(event_json: str) -> set[tuple[str, int]]:
    try:
        body = json.loads(event_json)
    except ValueError:
        return set()
    if not isinstance(body, dict):
        return set()
    out: set[tuple[str, int]] = set()
    for name, code in _FIELDS.items():
        value = body.get(name)
        values = [value] if name == "parentID" and name in body else value
        if isinstance(values, list):
            out.update(
                (epc, code) for epc in values if isinstance(epc, str) and 0 < len(epc) <= _MAX_EPC
            )
    return out


def upgrade() -> None:
    """Apply this revision."""
    table = op.create_table(
        "event_epcs",
        sa.Column("epc", sa.String(length=512), nullable=False),
        sa.Column("field", sa.SmallInteger(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_epcs_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("epc", "field", "event_id", name=op.f("pk_event_epcs")),
    )
    op.create_index(op.f("ix_event_epcs_event_id"), "event_epcs", ["event_id"], unique=False)
    assert table is not None
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("event_json", sa.Text))
    last = 0
    while True:
        batch = bind.execute(
            sa.select(events.c.id, events.c.event_json)
            .where(events.c.id > last)
            .order_by(events.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            break
        rows: list[dict[str, Any]] = [
            {"epc": epc, "field": code, "event_id": event_id}
            for event_id, event_json in batch
            for epc, code in sorted(_entries(event_json))
        ]
        if rows:
            bind.execute(sa.insert(table), rows)
        last = batch[-1][0]


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_event_epcs_event_id"), table_name="event_epcs")
    op.drop_table("event_epcs")
