"""The public GS1 Digital Link resolver: a page for people, JSON with proofs for machines.

Every resolver route hands its request to `_resolve`, which parses the path into a key (GTIN,
lot, serial) and answers; compressed links are decompressed first (their uncompressed URI goes
in `Link: rel="owl:sameAs"`). CORS, caching and compression are api/security_headers.py's and
api/resolver_http.py's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from api.accept_header import accept_q
from api.answer_cache import answers_of
from api.brand_state import brand_speaks
from api.deps import ChainDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.links import BadDigitalLink, item_or_404, request_gtin_key
from api.linkset_view import linkset_answer, with_linkset
from api.page_language import viewer_languages
from api.page_templates import templates
from api.product_view import product_of_key, product_view
from api.proof_bundle import bundle_response
from api.rate_limit import Bucket, per_client
from api.resolver_http import HEAD_ASKED
from api.resolver_paths import ALLOWED_METHODS, WELL_KNOWN, compressed_link
from api.resolver_view import item_view, unknown_item_view
from api.scan_counter import scans_of
from api.schemas.resolver import ResolverDescription
from core.digital_link import GtinKey
from core.digital_link_compression import uncompressed_uri

_LIMIT = [Depends(per_client(Bucket.RESOLVER))]
# One operationId per route (its name); api/openapi_doc.py adds each method to it.
router = APIRouter(
    tags=["resolver"], dependencies=_LIMIT, generate_unique_id_function=lambda r: r.name
)

_JSON_TYPES = ("application/json", "application/linkset+json", "application/ld+json")


def wants_json(request: Request) -> bool:
    """JSON on ?format=json, or an Accept that prefers JSON to HTML (?linkType=all is a linkset:
    api/linkset_view.py answers it first)."""
    fmt = request.query_params.get("format", "").lower()
    if fmt in ("json", "html", "bundle"):
        return fmt != "html"
    ranges = accept_q(request.headers.get("accept", ""))
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


_PREFLIGHT = {"description": "OPTIONS: the methods allowed (Allow) and CORS preflight headers"}
_INVALID = {"content": _either("UnresolvedItem"), "description": "Not a valid GS1 Digital Link"}
_NOT_MODIFIED = {"description": "If-None-Match named the answer's ETag"}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _either("ResolvedItem"), "description": "The item, its history and proofs"},
    204: _PREFLIGHT,
    304: _NOT_MODIFIED,
    400: _INVALID,
    404: {"content": _either("UnresolvedItem"), "description": "Unknown item, with a verdict"},
}
_PRODUCT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_RESPONSES,
    200: {"content": _either("ResolvedProduct"), "description": "The product (and lot)"},
    404: {"content": _either("UnresolvedItem"), "description": "Unknown product or lot"},
}


def _same_as(link: str) -> str:
    return f'<{link}>; rel="owl:sameAs"'


def _resolve(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    compressed: tuple[GtinKey, str] | None = None,
) -> Response:
    """One resolver answer: a preflight, the 400 of a malformed link, an item, a product or lot.

    `compressed` is the key and uncompressed URI of a compressed link; else the raw path is
    parsed. A linkset or `?linkType=` request is api/linkset_view.py's.
    """
    as_json = wants_json(request)
    try:
        key, uncompressed = compressed or request_gtin_key(request, settings.base_url)
    except BadDigitalLink as exc:
        return _error(request, exc, as_json)  # a preflight too: the link is wrong whatever follows
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": ", ".join(ALLOWED_METHODS)})
    linked = linkset_answer(request, session, settings.base_url, (key.gtin, key.lot, key.serial))
    if linked is not None:
        return linked
    if key.serial is None:
        return _product(request, key, session, settings, chain, as_json, uncompressed)
    return _item(request, key, session, settings, chain, as_json, uncompressed)


def _languages(request: Request) -> list[str]:
    """The viewer's languages, best first, for the brand's content."""
    return viewer_languages(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )


def _item(
    request: Request,
    key: GtinKey,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    as_json: bool,
    uncompressed: str | None,
) -> Response:
    assert key.serial is not None
    try:
        item = item_or_404(session, key.gtin, key.serial, lot=key.lot)
    except ApiError as exc:
        # A registered brand's GTIN with an unknown serial (or a lot other than the item's) is
        # "not recognised"; a GTIN of no registered brand gets the neutral verdict, never a
        # counterfeit warning.
        unknown = unknown_item_view(
            session, key.gtin, chain, key.serial, key.lot, settings.base_url
        )
        return _error(request, exc, as_json, unknown)
    view = item_view(session, item, settings.base_url, chain, _languages(request))
    headers = {"Vary": "Accept", "Link": _same_as(uncompressed or view["item"]["link"])}
    if request.query_params.get("format", "").lower() == "bundle":
        return bundle_response(view, headers)  # the page's own check, or a download: no scan
    if not request.scope.get(HEAD_ASKED):  # a HEAD (answered as a GET) is no scan
        scans_of(request).count(item.id)  # a scan for the brand's counts (never shown publicly)
    if as_json:
        answer: Response = JSONResponse(view, headers=headers)
    else:
        answer = templates.TemplateResponse(request, "item.html", view, headers=headers)
    answers_of(request).put(request, item.id, answer)  # api/answer_cache.py answers it again
    return answer


def _product(
    request: Request,
    key: GtinKey,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    as_json: bool,
    uncompressed: str | None,
) -> Response:
    try:
        product = product_of_key(session, key)
    except ApiError as exc:
        unknown = unknown_item_view(session, key.gtin, chain, None, key.lot, settings.base_url)
        return _error(request, exc, as_json, unknown)
    heard = brand_speaks(session, chain, product.brand.principal.wallet_address)
    view = product_view(session, product, key, settings.base_url, _languages(request), heard)
    headers = {"Vary": "Accept", "Link": _same_as(uncompressed or view["link"])}
    if as_json:
        return JSONResponse(view, headers=headers)
    return templates.TemplateResponse(request, "product.html", view, headers=headers)


@router.api_route(
    "/01/{gtin}",
    methods=list(ALLOWED_METHODS),
    response_class=HTMLResponse,
    responses=with_linkset(_PRODUCT_RESPONSES),
)
def resolve_product(
    gtin: str, request: Request, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> Response:
    """Resolve a GTIN's Digital Link: the product and its brand, as HTML or JSON."""
    return _resolve(request, session, settings, chain)


@router.api_route(
    "/01/{gtin}/10/{lot}",
    methods=list(ALLOWED_METHODS),
    response_class=HTMLResponse,
    responses=with_linkset(_PRODUCT_RESPONSES),
)
def resolve_lot(
    gtin: str,
    lot: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> Response:
    """Resolve a lot's Digital Link: the product, the lot and its expiry; never its serials."""
    return _resolve(request, session, settings, chain)


@router.api_route(
    "/01/{gtin}/21/{serial:path}",
    methods=list(ALLOWED_METHODS),
    response_class=HTMLResponse,
    responses=with_linkset(_RESPONSES),
)
def resolve(
    gtin: str,
    serial: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
) -> Response:
    """Resolve an item's GS1 Digital Link: HTML, or JSON history with proofs and finality."""
    return _resolve(request, session, settings, chain)


@router.api_route("/01/{rest:path}", methods=list(ALLOWED_METHODS), include_in_schema=False)
def resolve_qualified(
    rest: str, request: Request, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> Response:
    """Every other path under /01/: qualifiers (/22/, /10/ before /21/), a trailing slash, and
    the 400 of anything that is no Digital Link."""
    return _resolve(request, session, settings, chain)


@router.api_route(
    WELL_KNOWN,
    methods=list(ALLOWED_METHODS),
    response_model=ResolverDescription,
    responses={204: _PREFLIGHT, 304: _NOT_MODIFIED},
)
def resolver_description(request: Request, settings: SettingsDep) -> Response:
    """The resolver's description file (GS1-Conformant resolver standard, section 3)."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": ", ".join(ALLOWED_METHODS)})
    description = ResolverDescription.model_validate(
        {
            "name": "chaintrace",
            "resolverRoot": settings.base_url,
            "supportedPrimaryKeys": ["01"],
            "supportedLinkType": [{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}],
            "linkTypeDefaultCanBeLinkset": False,
            "jsonLdContextLocation": "https://ref.gs1.org/standards/resolver/linkset-context",
        }
    )
    return JSONResponse(description.model_dump(by_alias=True))


class CompressedLinkRoute(APIRoute):
    """A route that matches only a path segment that decompresses to a GTIN Digital Link, so it
    never takes another route's path (nor turns another route's 404 or 405 into its own)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if compressed_link(scope.get("path", "")) is None:
            return Match.NONE, {}
        return super().matches(scope)


# Included after every other router (api/main.py).
compressed_router = APIRouter(
    tags=["resolver"], dependencies=_LIMIT, route_class=CompressedLinkRoute
)


@compressed_router.api_route("/{segment}", methods=list(ALLOWED_METHODS), include_in_schema=False)
@compressed_router.api_route("/{segment}/", methods=list(ALLOWED_METHODS), include_in_schema=False)
def resolve_compressed(
    segment: str, request: Request, session: SessionDep, settings: SettingsDep, chain: ChainDep
) -> Response:
    """A compressed Digital Link, answered as its uncompressed link is."""
    found = compressed_link(request.url.path)
    assert found is not None  # the route matched only such a path
    uncompressed = uncompressed_uri(settings.base_url, found)
    return _resolve(request, session, settings, chain, (found.key, uncompressed))
