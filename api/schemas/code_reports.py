"""The bodies of /reports: a shopper's report of a not-recognised code, and the brand's inbox."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from api.schemas.common import ApiModel
from core.digital_link import MAX_LINK_LEN

COMMENT_MAX = 500
WHERE_BOUGHT_MAX = 200


def _removed(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def plain_text(value: str) -> str | None:
    """Free text as stored and shown: line breaks kept (CR LF and CR as LF), tabs as spaces,
    every other control or format character (NUL, escapes, bidi overrides, zero-width) and
    line/paragraph separator removed, at most two line breaks in a row, trimmed; None if
    nothing is left. It is plain text: whoever shows it escapes it."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    kept = "".join(
        c
        for c in value
        if c == "\n"
        or not (unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp"))
    )
    while "\n\n\n" in kept:
        kept = kept.replace("\n\n\n", "\n\n")
    return kept.strip() or None


FreeText = Annotated[str | None, AfterValidator(lambda v: None if v is None else plain_text(v))]


class CodeReportIn(ApiModel):
    """POST /reports (JSON) or /reports/form (the page's form): a shopper reports a code the
    brand holding its prefix has not registered. No name, e-mail or address is asked for."""

    link: str = Field(
        min_length=1,
        max_length=MAX_LINK_LEN,
        description="The Digital Link as scanned (URL or path): /01/{gtin}[/10/{lot}]/21/{serial}",
    )
    comment: FreeText = Field(
        default=None,
        max_length=COMMENT_MAX,
        description=f"What made the shopper check: up to {COMMENT_MAX} characters, plain text",
    )
    where_bought: FreeText = Field(
        default=None,
        max_length=WHERE_BOUGHT_MAX,
        description=f"Where it was bought: up to {WHERE_BOUGHT_MAX} characters, plain text",
    )


class CodeReportAccepted(ApiModel):
    """202: the report was taken. `outcome`: stored (in the brand's inbox), repeated (this
    client reported this code before: counted only) or counted (the code has the most reports
    kept per code: counted only)."""

    outcome: str
    times_reported: int = Field(description="Reports of this code received in all")


class CodeReportOut(ApiModel):
    """One report in the brand's inbox; `comment` and `whereBought` are plain text as the
    shopper wrote them (cleaned of control characters): escape them wherever they are shown."""

    id: int
    gtin: str
    serial: str
    lot: str | None
    link: str = Field(description="The Digital Link path reported")
    comment: str | None
    where_bought: str | None
    reported_at: datetime
    handled_at: datetime | None
    times_reported: int = Field(description="Reports of this code received in all (repeats too)")


class CodeReportPage(ApiModel):
    """The brand's reports, newest first; `nextBefore` fetches the next page (null: no more)."""

    reports: list[CodeReportOut]
    next_before: int | None


class CodeReportPatch(ApiModel):
    """PATCH /reports/{id}: mark the report handled (true) or open again (false)."""

    handled: bool = Field(strict=True)
