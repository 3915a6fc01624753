"""A brand's scan counts of one of its products."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from api.schemas.common import ApiModel


class DayScans(ApiModel):
    """One UTC day: resolver answers (page or JSON) for the product's items, and how many
    distinct items they were for."""

    date: date
    scans: int = Field(ge=1)
    items: int = Field(ge=1)


class ProductScans(ApiModel):
    """Scans per UTC day from `from` to `to` (inclusive); days without any are left out. The
    latest SCAN_FLUSH_SECONDS of scans may not be in yet."""

    gtin: str
    serial: str | None = Field(description="Only this item's scans, when the request named one")
    from_: date = Field(alias="from")
    to: date
    total: int = Field(ge=0)
    days: list[DayScans]
