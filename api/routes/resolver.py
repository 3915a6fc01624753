"""The public GS1 Digital Link resolver: a page for people, JSON with proofs for machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from api.deps import ChainDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.links import item_or_404, request_item_key, request_item_lot
from api.rate_limit import Bucket, per_client
from api.resolver_view import item_view, unknown_item_view

router = APIRouter(tags=["resolver"], dependencies=[Depends(per_client(Bucket.RESOLVER))])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

_JSON_TYPES = ("application/json", "application/linkset+json", "application/ld+json")


def _accept_q(accept: str) -> dict[str, float]:
    """Media ranges of an Accept header with their q values (malformed q counts as 0)."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges[media.lower()] = max(q, ranges.get(media.lower(), 0.0))
    return ranges


def wants_json(request: Request) -> bool:
    """JSON on ?format=json, ?linkType=all, or an Accept that prefers JSON to HTML."""
    fmt = request.query_params.get("format", "").lower()
    if fmt in ("json", "html"):
        return fmt == "json"
    if request.query_params.get("linkType") == "all":
        return True
    ranges = _accept_q(request.headers.get("accept", ""))
    json_q = max((ranges.get(t, 0.0) for t in _JSON_TYPES), default=0.0)
    html_q = max(ranges.get("text/html", 0.0), ranges.get("application/xhtml+xml", 0.0))
    return json_q > 0 and json_q > html_q


def _error(
    request: Request, exc: ApiError, as_json: bool, authentic: dict[str, Any] | None = None
) -> Response:
    if as_json:
        body: dict[str, Any] = {"detail": exc.detail}
        if authentic is not None:
            body["authentic"] = authentic
        return JSONResponse(body, exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else exc.detail[0]["msg"]
    context = {"detail": detail, "authentic": authentic}
    return templates.TemplateResponse(
        request, "not_found.html", context, status_code=exc.status_code
    )


def _either(model: str) -> dict[str, Any]:
    """A page for people, or with Accept: application/json (or ?format=json) the JSON `model`."""
    return {
        "text/html": {"schema": {"type": "string"}},
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}},
    }


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _either("ResolvedItem"), "description": "The item, its history and proofs"},
    404: {"content": _either("UnresolvedItem"), "description": "Unknown item, with a verdict"},
    422: {"content": _either("UnresolvedItem"), "description": "Not a valid GTIN or serial"},
}


@router.get("/01/{gtin}/21/{serial:path}", response_class=HTMLResponse, responses=_RESPONSES)
def resolve(
    gtin: str,
    serial: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> Response:
    """Resolve an item's GS1 Digital Link: HTML, or JSON history with proofs and finality."""
    as_json = wants_json(request)
    try:
        key = request_item_key(request)
    except ApiError as exc:
        return _error(request, exc, as_json)
    try:
        item = item_or_404(session, *key, lot=request_item_lot(request))
    except ApiError as exc:
        # A registered brand's GTIN with an unknown serial (or a lot other than the item's) is
        # "not recognised"; a GTIN of no registered brand gets the neutral verdict, never a
        # counterfeit warning.
        unknown = unknown_item_view(
            session, key[0], chain, key[1], request_item_lot(request), settings.base_url
        )
        return _error(request, exc, as_json, unknown)
    view = item_view(session, item, settings.base_url, chain)
    headers = {"Vary": "Accept", "Link": f'<{view["item"]["link"]}>; rel="owl:sameAs"'}
    if as_json:
        return JSONResponse(view, headers=headers)
    return templates.TemplateResponse(request, "item.html", view, headers=headers)


@router.get("/01/{rest:path}", include_in_schema=False)
def resolve_qualified(
    rest: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> Response:
    """Digital Links with qualifiers before the serial (/01/{gtin}/10/{lot}/21/{serial})."""
    return resolve("", rest, request, session, settings, chain)
