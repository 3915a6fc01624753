"""Resolver links a brand registered for one of its GTINs, a lot of it, or one serial."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt


class ResolverLink(CreatedAt, Base):
    """One link of a Digital Link's linkset: GTIN level (no lot, no serial), lot level (lot),
    or serial level (serial). Values are checked by core.link_rules before they get here."""

    __tablename__ = "resolver_links"
    __table_args__ = (Index("ix_resolver_links_key", "gtin", "lot", "serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(
        ForeignKey("brands.id", ondelete="CASCADE"), nullable=False, index=True
    )
    gtin: Mapped[str] = mapped_column(String(14), nullable=False)
    lot: Mapped[str | None] = mapped_column(String(20))
    serial: Mapped[str | None] = mapped_column(String(20))
    link_type: Mapped[str] = mapped_column(String(100), nullable=False)  # gs1:<term>
    href: Mapped[str] = mapped_column(String(1024), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    hreflang: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    media_type: Mapped[str | None] = mapped_column(String(127))
