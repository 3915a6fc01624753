"""The resolver's GS1 linkType answers: the linkset (`?linkType=all`, `?linkType=linkset`,
`Accept: application/linkset+json`) as RFC 9264 JSON, a 307 to the link of a requested type, and
the `Link: rel="linkset"` header on every resolver answer (LinksetHeader).

Which links: the brand's (store.link_registry.links_for: serial -> lot -> GTIN) and chaintrace's
own for an item (core.linkset.platform_links); core.linkset decides the one gs1:defaultLink.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.accept_header import accept_q
from api.errors import ApiError, NotFound
from api.links import item_link, item_or_404
from core.errors import LinkError
from core.link_rules import link_type
from core.linkset import (
    LINKSET_MEDIA_TYPE,
    LINKSET_REQUESTS,
    Link,
    Linkset,
    anchor_uri,
    build_linkset,
    parse_key_path,
    platform_links,
    redirect_target,
)
from store.link_registry import links_for
from store.models import ResolverLink

# Media ranges a resolver client may prefer to the linkset (an explicit range only: */* does not
# ask for a linkset).
_OTHER_TYPES = ("text/html", "application/xhtml+xml", "application/json", "application/ld+json")


_LINKSET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9264 linkset: one context, its anchor the Digital Link, link types as "
    "GS1 Web Vocabulary URIs (https://gs1.org/voc/...), exactly one gs1:defaultLink",
    "required": ["linkset"],
    "properties": {"linkset": {"type": "array", "items": {"type": "object"}}},
}


def with_linkset(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """A resolver route's OpenAPI responses with the linkset (200) and the linkType redirect
    (307) added."""
    ok = responses.get(200, {"description": "The linkset"})
    content = {**ok.get("content", {}), LINKSET_MEDIA_TYPE: {"schema": _LINKSET_SCHEMA}}
    redirect = {
        "description": "?linkType=gs1:<type>: to the first link of that type, the request's "
        "other query parameters passed on",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
    return {**responses, 200: {**ok, "content": content}, 307: redirect}


def wants_linkset(request: Request) -> bool:
    """`?linkType=all|linkset`, or (without ?format=) an Accept preferring the linkset type."""
    if request.query_params.get("linkType") in LINKSET_REQUESTS:
        return True
    if request.query_params.get("format") or "linkType" in request.query_params:
        return False
    ranges = accept_q(request.headers.get("accept", ""))
    q = ranges.get(LINKSET_MEDIA_TYPE, 0.0)
    return q > 0 and all(q >= ranges.get(other, 0.0) for other in _OTHER_TYPES)


def _path(scope: Scope) -> str:
    """The request's path still percent-encoded (decoded exactly once, by core.digital_link)."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else str(scope.get("path", ""))
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _link(row: ResolverLink) -> Link:
    return Link(row.link_type, row.href, row.title, tuple(row.hreflang), row.media_type)


def linkset_of(
    session: Session, base_url: str, gtin: str, lot: str | None, serial: str | None
) -> Linkset:
    """The linkset of a GTIN, a lot or an item (404 when there is no such item, or no link at
    all); the brand's links of every level up to the GTIN, then chaintrace's for an item."""
    platform: list[Link] = []
    item_lot = lot
    if serial is not None:
        item = item_or_404(session, gtin, serial, lot=lot)
        item_lot = lot if lot is not None else item.lot
        platform = platform_links(item_link(base_url, gtin, serial))
    brand = [_link(row) for row in links_for(session, gtin, item_lot, serial)]
    try:
        return build_linkset(anchor_uri(base_url, gtin, lot, serial), [brand], platform)
    except LinkError:
        raise NotFound(f"no links for {anchor_uri(base_url, gtin, lot, serial)}") from None


def _problem(exc: ApiError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, exc.status_code, headers={"Vary": "Accept"})


def linkset_answer(
    request: Request, session: Session, base_url: str, key: tuple[str, str | None, str | None]
) -> Response | None:
    """The answer to a linkset or `?linkType=` request for the Digital Link `key` (GTIN, lot,
    serial), or None when the request asks for neither."""
    requested = request.query_params.get("linkType")
    as_linkset = wants_linkset(request)
    if requested is None and not as_linkset:
        return None
    try:
        linkset = linkset_of(session, base_url, *key)
    except ApiError as exc:
        return _problem(exc)
    if as_linkset:
        return JSONResponse(
            linkset.document(), media_type=LINKSET_MEDIA_TYPE, headers={"Vary": "Accept"}
        )
    assert requested is not None
    try:
        chosen = linkset.first(requested)
    except LinkError as exc:
        return _problem(NotFound(f"linkType {requested!r}: {exc}"))
    if chosen is None:
        return _problem(NotFound(f"no {link_type(requested)} link for {linkset.anchor}"))
    target = redirect_target(chosen.href, request.query_params.multi_items())
    return RedirectResponse(target, status_code=307)


class LinksetHeader:
    """Adds `Link: <anchor?linkType=linkset>; rel="linkset"` to every answer on a Digital Link
    path (redirects and errors included), so a client finds the linkset from any of them."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        self.base_url = base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/01/"):
            await self.app(scope, receive, send)
            return
        key = parse_key_path(_path(scope))
        if key is None:
            await self.app(scope, receive, send)
            return
        value = (
            f'<{anchor_uri(self.base_url, *key)}?linkType=linkset>; rel="linkset"; '
            f'type="{LINKSET_MEDIA_TYPE}"'
        )

        async def send_with_link(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Link", value)
            await send(message)

        await self.app(scope, receive, send_with_link)
