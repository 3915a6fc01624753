"""How often each item was resolved per UTC day (a brand's scan counts; never public)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class ScanCount(Base):
    """Scans of one item on one UTC day: resolver answers (page or JSON, 200 or 304) for it."""

    __tablename__ = "scan_counts"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scans: Mapped[int] = mapped_column(Integer, nullable=False)
