"""Scan counts per item and UTC day: added in batches, read per product for its brand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from store.models import Item, ScanCount

# (item id, UTC day) -> scans to add.
ScanKey = tuple[int, date]


def add_scans(session: Session, counts: Mapping[ScanKey, int]) -> None:
    """Add `counts` to the stored ones in one statement: an upsert that adds, so batches from
    several processes (or a retried one's remainder) sum instead of overwriting each other."""
    if not counts:
        return
    rows = [{"item_id": i, "day": d, "scans": n} for (i, d), n in counts.items()]
    # Both dialects spell it ON CONFLICT (item_id, day) DO UPDATE.
    keys = ["item_id", "day"]
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(ScanCount).values(rows)
        added: Executable = pg.on_conflict_do_update(
            index_elements=keys, set_={"scans": ScanCount.scans + pg.excluded.scans}
        )
    else:
        lite = sqlite.insert(ScanCount).values(rows)
        added = lite.on_conflict_do_update(
            index_elements=keys, set_={"scans": ScanCount.scans + lite.excluded.scans}
        )
    session.execute(added)


@dataclass(frozen=True)
class DayScans:
    """One UTC day of a product's scans: how many, and of how many distinct items."""

    day: date
    scans: int
    items: int


def product_scans(
    session: Session, product_id: int, first: date, last: date, serial: str | None = None
) -> list[DayScans]:
    """The product's scans per day from `first` to `last` (inclusive), days without any left
    out; only the item `serial`'s when given."""
    query = (
        select(ScanCount.day, func.sum(ScanCount.scans), func.count(ScanCount.item_id))
        .join(Item, Item.id == ScanCount.item_id)
        .where(Item.product_id == product_id, ScanCount.day >= first, ScanCount.day <= last)
        .group_by(ScanCount.day)
        .order_by(ScanCount.day)
    )
    if serial is not None:
        query = query.where(Item.serial == serial)
    return [DayScans(day, int(scans), int(items)) for day, scans, items in session.execute(query)]
