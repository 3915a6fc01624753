""" "Report this code": shoppers report a code the brand holding its prefix never registered, the
brand reads its reports (issue 16).

POST /reports (JSON) and POST /reports/form (the resolver page's plain HTML form, answered with a
303 back to the code's page, which then thanks instead of offering the form) take a report
without a key, rate limited per client (Bucket.CODE_REPORTS). Only a not-recognised code is
taken, exactly when the page offers the form (api/unknown_code.py): a registered item's code is
409 (nothing to report, and no flooding a brand with reports of its real items), a GTIN no
registered brand holds is 404 (no brand to tell). Stored bounded (store/code_reports.py): one
report per client and code, at most MAX_STORED_PER_CODE per code, every one counted.

GET /reports and PATCH /reports/{id}: the brand's own inbox (brand key); another brand's report
is 404, as an absent one. No other role reads reports: they are what shoppers told one brand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.code_report_client import client_hash
from api.deps import ChainDep, SessionDep, SettingsDep, require_role
from api.errors import ApiError, Conflict, FieldError, NotFound
from api.openapi_doc import DESCRIPTIONS, errors
from api.page_templates import templates
from api.rate_limit import Bucket, limits_of, per_client
from api.schemas.code_reports import (
    CodeReportAccepted,
    CodeReportIn,
    CodeReportOut,
    CodeReportPage,
    CodeReportPatch,
)
from api.schemas.common import INT64_MAX
from api.settings import ApiSettings
from api.state import ChainAccess
from api.unknown_code import code_path, judge_unknown
from core.digital_link import parse_link, parse_link_lot
from core.errors import DigitalLinkError
from store.code_reports import (
    Recorded,
    ReportedCode,
    ReportText,
    brand_report,
    inbox_page,
    record_report,
    times_reported,
)
from store.models import Brand, CodeReport, Principal, Role
from store.models.types import utcnow
from store.queries import find_item

router = APIRouter(tags=["code reports"])
BrandDep = Annotated[Principal, Depends(require_role(Role.BRAND))]
# The form's fields: a browser sends these three; anything more is no form of ours.
_FORM_FIELDS = frozenset({"link", "comment", "whereBought"})
_MAX_FORM_FIELDS = 10


def _reported_code(link: str) -> ReportedCode:
    """The code a link names (422 naming body.link if it names none)."""
    try:
        gtin, serial = parse_link(link)
        lot = parse_link_lot(link)
    except DigitalLinkError as exc:
        raise FieldError(["body", "link"], f"not a GS1 Digital Link of an item: {exc}") from None
    return ReportedCode(gtin, serial, lot, code_path(gtin, serial, lot))


def _take(
    session: Session,
    chain: ChainAccess,
    settings: ApiSettings,
    client: str,
    body: CodeReportIn,
) -> tuple[ReportedCode, Recorded]:
    """Record the report if its code is not recognised; the refusals as the module says."""
    code = _reported_code(body.link)
    item = find_item(session, code.gtin, code.serial)
    if item is not None and (code.lot is None or item.lot in (None, code.lot)):
        raise Conflict(
            "this code is a registered item's: its page shows its history; only codes the "
            "brand has not registered can be reported"
        )
    unknown = judge_unknown(session, code.gtin, chain)  # 503 when the chain cannot be read
    if not unknown.reportable or unknown.brand is None:
        raise NotFound(
            f"no registered brand holds the company prefix of GTIN {code.gtin}: there is no "
            "brand to report the code to"
        )
    text = ReportText(body.comment, body.where_bought)
    fingerprint = client_hash(settings, client, code.gtin, code.serial)
    recorded = record_report(session, unknown.brand.id, code, text, fingerprint, utcnow())
    session.commit()
    return code, recorded


_REPORT_ERRORS = errors(404, 409, 503)


@router.post(
    "/reports",
    status_code=202,
    response_model=CodeReportAccepted,
    responses=_REPORT_ERRORS,
    dependencies=[Depends(per_client(Bucket.CODE_REPORTS))],
    openapi_extra={"security": [{}]},  # no key: anyone who scanned the code
)
def report_code(
    body: CodeReportIn,
    request: Request,
    session: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
) -> CodeReportAccepted:
    """Report a code the brand holding its prefix has not registered (public, no key; rate
    limited per client). 409: the code is a registered item's; 404: no brand holds the GTIN."""
    limits = limits_of(request)
    _, recorded = _take(session, chain, settings, limits.client(request), body)
    return CodeReportAccepted(
        outcome=recorded.outcome.value, times_reported=recorded.times_reported
    )


@dataclass(frozen=True)
class FormBody:
    """The urlencoded form's fields (the first of each name), or why it is none."""

    fields: dict[str, str]
    problem: str | None = None


async def _form_body(request: Request) -> FormBody:
    raw = await request.body()
    try:
        fields = parse_qs(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return FormBody({}, "not an application/x-www-form-urlencoded UTF-8 body")
    return FormBody({name: values[0] for name, values in fields.items()})


FormDep = Annotated[FormBody, Depends(_form_body)]


def _html(request: Request, status: int, detail: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "report_refused.html", {"detail": detail, "status": status}, status_code=status
    )


def _form_refusal(request: Request, exc: ApiError) -> HTMLResponse:
    detail = exc.detail
    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(map(str, p['loc'][1:]))}: {p['msg']}" for p in detail)
    response = _html(request, exc.status_code, str(detail))
    response.headers.update(exc.headers or {})
    return response


def _html_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": DESCRIPTIONS[code], "content": {"text/html": {"schema": {}}}}
        for code in codes
    }


_FORM_DOC: dict[str, Any] = {
    "security": [{}],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/CodeReportIn"}
            }
        },
    },
}


@router.post(
    "/reports/form",
    status_code=303,
    response_class=HTMLResponse,
    responses={
        303: {"description": "Taken: back to the code's page, which thanks the shopper"},
        **_html_errors(404, 409, 422, 429, 503),
    },
    openapi_extra=_FORM_DOC,
)
def report_code_form(
    form: FormDep,
    request: Request,
    session: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
) -> Response:
    """The resolver page's "Report this code" form (application/x-www-form-urlencoded, no
    JavaScript): as POST /reports, answered with a 303 to the code's page (so a reload does
    not post again), or an HTML page saying why the report was refused."""
    limits = limits_of(request)
    client = limits.client(request)
    try:
        limits.hit(Bucket.CODE_REPORTS, client)
        if form.problem is not None:
            raise FieldError(["body"], form.problem)
        unknown = sorted(set(form.fields) - _FORM_FIELDS)
        if unknown:
            raise FieldError(["body", unknown[0]], "not a field of the report form")
        try:
            body = CodeReportIn.model_validate(form.fields)
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise FieldError(["body", *map(str, problem["loc"])], problem["msg"]) from None
        code, _ = _take(session, chain, settings, client, body)
    except ApiError as exc:
        return _form_refusal(request, exc)
    # Relative: back to the page the form was on, whatever origin served it.
    return RedirectResponse(f"{code.link}?reported=1#report", status_code=303)


def _own_brand(session: Session, principal: Principal) -> Brand | None:
    return session.scalar(select(Brand).where(Brand.principal_id == principal.id))


def _out(report: CodeReport, times: int) -> CodeReportOut:
    return CodeReportOut(
        id=report.id,
        gtin=report.gtin,
        serial=report.serial,
        lot=report.lot,
        link=report.link,
        comment=report.comment,
        where_bought=report.where_bought,
        reported_at=report.reported_at,
        handled_at=report.handled_at,
        times_reported=times,
    )


@router.get("/reports", response_model=CodeReportPage)
def inbox(
    session: SessionDep,
    principal: BrandDep,
    before: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="Reports older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Reports per page")] = 50,
    handled: Annotated[
        bool | None, Query(description="Only handled (true) or open (false) reports")
    ] = None,
) -> CodeReportPage:
    """The calling brand's reports of codes it has not registered, newest first, each with how
    often its code was reported in all (brand key; a brand sees its own reports only)."""
    brand = _own_brand(session, principal)
    rows = [] if brand is None else inbox_page(session, brand.id, before, limit, handled)
    last = rows[-1][0].id if len(rows) == limit else None
    return CodeReportPage(reports=[_out(r, t) for r, t in rows], next_before=last)


@router.patch("/reports/{report_id:int}", response_model=CodeReportOut, responses=errors(404))
def mark(
    report_id: Annotated[int, PathParam(ge=1, le=INT64_MAX)],
    body: CodeReportPatch,
    session: SessionDep,
    principal: BrandDep,
) -> CodeReportOut:
    """Mark one of the calling brand's reports handled, or open again; 404 if it is not one."""
    brand = _own_brand(session, principal)
    report = None if brand is None else brand_report(session, brand.id, report_id)
    if report is None:
        raise NotFound("no such report of yours")
    if body.handled != (report.handled_at is not None):
        report.handled_at = utcnow() if body.handled else None
    out = _out(report, times_reported(session, report.gtin, report.serial))
    session.commit()
    return out
