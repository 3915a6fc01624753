"""Shoppers' reports of codes a registered brand never issued, for that brand's inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class CodeReport(Base):
    """One report of a not-recognised code: at most one per code and client, a bounded number
    per code (store/code_reports.py); every report received is counted in CodeReportCount."""

    __tablename__ = "code_reports"
    __table_args__ = (UniqueConstraint("gtin", "serial", "client_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), nullable=False, index=True)
    gtin: Mapped[str] = mapped_column(String(14), nullable=False)
    serial: Mapped[str] = mapped_column(String(20), nullable=False)
    lot: Mapped[str | None] = mapped_column(String(20))
    # The Digital Link path as scanned, rebuilt canonically from the values above.
    link: Mapped[str] = mapped_column(String(200), nullable=False)
    comment: Mapped[str | None] = mapped_column(String(500))
    where_bought: Mapped[str | None] = mapped_column(String(200))
    # A keyed hash of (client, code): dedups one client's repeats of one code; no address, and
    # not the same value for the same client on another code (api/code_report_client.py).
    client_hash: Mapped[str] = mapped_column(String(32), nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CodeReportCount(Base):
    """How often one code was reported (stored, repeated or beyond the per-code bound)."""

    __tablename__ = "code_report_counts"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), nullable=False, index=True)
    reports: Mapped[int] = mapped_column(Integer, nullable=False)
    first_reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
