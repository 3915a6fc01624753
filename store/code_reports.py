"""Shoppers' reports of not-recognised codes, and the brand's inbox of them.

Bounded per code: one client's repeats of one code are counted, not stored again (the client is
known only by a keyed hash of client and code), and at most MAX_STORED_PER_CODE reports of one
code are stored; every report received, stored or not, adds one to the code's count.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import CodeReport, CodeReportCount

# Reports of one code kept with their text; later ones (from new clients) are only counted.
MAX_STORED_PER_CODE = 20


@dataclass(frozen=True)
class ReportedCode:
    """The code reported: GTIN-14, serial, the lot if the link named one, the link's path."""

    gtin: str
    serial: str
    lot: str | None
    link: str


@dataclass(frozen=True)
class ReportText:
    """What the shopper wrote, already bounded and cleaned (None: nothing)."""

    comment: str | None = None
    where_bought: str | None = None


class Outcome(enum.StrEnum):
    """What became of a report."""

    STORED = "stored"  # a new report in the brand's inbox
    REPEATED = "repeated"  # this client reported this code before: counted only
    COUNTED = "counted"  # the code has MAX_STORED_PER_CODE reports already: counted only


@dataclass(frozen=True)
class Recorded:
    """A report's outcome and how often its code has been reported in all."""

    outcome: Outcome
    times_reported: int
    report_id: int | None


def _count(session: Session, brand_id: int, code: ReportedCode, now: datetime) -> int:
    """Add one to the code's count (the row lock serialises reports of one code) and return it."""
    key = (CodeReportCount.gtin == code.gtin, CodeReportCount.serial == code.serial)
    bumped = session.execute(
        update(CodeReportCount)
        .where(*key)
        .values(reports=CodeReportCount.reports + 1, last_reported_at=now)
    )
    if bumped.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(
                    CodeReportCount(
                        gtin=code.gtin,
                        serial=code.serial,
                        brand_id=brand_id,
                        reports=1,
                        first_reported_at=now,
                        last_reported_at=now,
                    )
                )
            return 1
        except IntegrityError:  # a concurrent first report of the code: count on its row
            return _count(session, brand_id, code, now)
    return int(session.scalar(select(CodeReportCount.reports).where(*key)) or 0)


def record_report(
    session: Session,
    brand_id: int,
    code: ReportedCode,
    text: ReportText,
    client_hash: str,
    now: datetime,
) -> Recorded:
    """Count a report of `code` for the brand and store it unless repeated or over the bound."""
    times = _count(session, brand_id, code, now)
    same_code = (CodeReport.gtin == code.gtin, CodeReport.serial == code.serial)
    if session.scalar(
        select(CodeReport.id).where(*same_code, CodeReport.client_hash == client_hash)
    ):
        return Recorded(Outcome.REPEATED, times, None)
    stored = session.scalar(select(func.count()).select_from(CodeReport).where(*same_code)) or 0
    if stored >= MAX_STORED_PER_CODE:
        return Recorded(Outcome.COUNTED, times, None)
    report = CodeReport(
        brand_id=brand_id,
        gtin=code.gtin,
        serial=code.serial,
        lot=code.lot,
        link=code.link,
        comment=text.comment,
        where_bought=text.where_bought,
        client_hash=client_hash,
        reported_at=now,
    )
    try:
        with session.begin_nested():
            session.add(report)
    except IntegrityError:  # the same client's concurrent report of the code
        return Recorded(Outcome.REPEATED, times, None)
    return Recorded(Outcome.STORED, times, report.id)


def inbox_page(
    session: Session, brand_id: int, before: int | None, limit: int, handled: bool | None = None
) -> list[tuple[CodeReport, int]]:
    """The brand's reports newest first (ids below `before`), each with its code's count."""
    query = (
        select(CodeReport, CodeReportCount.reports)
        .outerjoin(
            CodeReportCount,
            (CodeReportCount.gtin == CodeReport.gtin)
            & (CodeReportCount.serial == CodeReport.serial),
        )
        .where(CodeReport.brand_id == brand_id)
        .order_by(CodeReport.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(CodeReport.id < before)
    if handled is not None:
        query = query.where(
            CodeReport.handled_at.is_not(None) if handled else CodeReport.handled_at.is_(None)
        )
    return [(report, int(times or 0)) for report, times in session.execute(query)]


def brand_report(session: Session, brand_id: int, report_id: int) -> CodeReport | None:
    """The brand's own report `report_id`, or None (absent, or another brand's)."""
    report = session.get(CodeReport, report_id)
    return report if report is not None and report.brand_id == brand_id else None


def times_reported(session: Session, gtin: str, serial: str) -> int:
    """How often a code has been reported in all."""
    count = session.scalar(
        select(CodeReportCount.reports).where(
            CodeReportCount.gtin == gtin, CodeReportCount.serial == serial
        )
    )
    return int(count or 0)
