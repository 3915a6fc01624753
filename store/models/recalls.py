"""Recalls the prefix's brand recorded: one row per subject (item, lot or product) of a recall."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class Recall(Base):
    """One subject of a recall event the brand holding its prefix captured (store/recalls.py):
    `serial` set: that item; else `lot` set: every item of the lot; else every item of `gtin`."""

    __tablename__ = "recalls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), nullable=False, index=True)
    gtin: Mapped[str] = mapped_column(String(14), nullable=False, index=True)
    serial: Mapped[str | None] = mapped_column(String(20))
    lot: Mapped[str | None] = mapped_column(String(20))
    recalled_at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the eventTime
    recorded_by: Mapped[int] = mapped_column(ForeignKey("principals.id"), nullable=False)
