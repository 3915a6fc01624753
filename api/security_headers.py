"""Security headers, one policy per class of route, all of it written here.

Classes: the GS1 resolver (Digital Links, compressed ones, its description file: the consumer
page's headers plus CORS, which GS1-Conformant resolvers must allow, and the item page's own
verifier script with the public RPC it asks), the QR PNGs, the
interactive API docs (Swagger UI and ReDoc, their scripts and styles served by the app itself
under DOCS_ASSETS), and everything else (JSON API, without CORS). A route class that later needs
other headers changes its entry in `POLICIES`, nowhere else.
"""

from __future__ import annotations

import enum

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.chain_public import origin_of
from api.page_times import LOCAL_TIME_SCRIPT_HASH
from api.resolver_paths import ALLOWED_METHODS, is_resolver_path
from api.verifier_script import INTEGRITY


class RouteClass(enum.Enum):
    """Which header policy a path gets."""

    RESOLVER = "resolver"
    PAGE = "page"
    DOCS = "docs"
    API = "api"


_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

# The consumer page: one inline script, allowed by its hash (times in the viewer's zone:
# api/page_times.py), its own inline stylesheet, images from itself, forms posted to itself only
# (the "report this code" form).
_PAGE = {
    **_COMMON,
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {LOCAL_TIME_SCRIPT_HASH}; style-src 'unsafe-inline'; "
        "img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}
# Any origin may read the resolver's answers (public data, no credentials) and its headers.
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
    "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match",
    "Access-Control-Expose-Headers": "Link, ETag, Location",
    "Access-Control-Max-Age": "86400",
}


def resolver_csp(rpc_url: str | None) -> str:
    """The resolver page's CSP: the page's policy plus exactly the verifier script (by its hash:
    api/verifier_script.py) fetching the bundle from us and asking PUBLIC_RPC_URL's origin, and
    the page's local-time script (api/page_times.py)."""
    connect = "'self'" + (f" {origin_of(rpc_url)}" if rpc_url else "")
    scripts = f"'{INTEGRITY}' {LOCAL_TIME_SCRIPT_HASH}"
    return (
        f"default-src 'none'; script-src {scripts}; connect-src {connect}; "
        "style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


POLICIES: dict[RouteClass, dict[str, str]] = {
    RouteClass.RESOLVER: {**_PAGE, **CORS, "Content-Security-Policy": resolver_csp(None)},
    RouteClass.PAGE: _PAGE,
    # Swagger UI / ReDoc pages: an inline bootstrap script plus bundles from the app itself;
    # no other origin (ReDoc's search runs in a blob: worker, both inline their styles).
    RouteClass.DOCS: {
        **_COMMON,
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        ),
    },
    # JSON: nothing in it may ever be rendered as a document.
    RouteClass.API: {
        **_COMMON,
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    },
}

_DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# Where the docs' scripts, styles and icon are served (fastapi-offline's package files).
DOCS_ASSETS = "/docs-assets"
# The QR codes of the resolver's links, and the answers to the resolver page's "report this
# code" form (api/routes/code_reports.py).
_PAGE_PREFIXES = ("/qr/", "/reports/form")

HSTS = "max-age=31536000; includeSubDomains"


def route_class(path: str) -> RouteClass:
    """The class of `path`."""
    if path in _DOCS_PATHS:
        return RouteClass.DOCS
    if is_resolver_path(path):
        return RouteClass.RESOLVER
    if path.startswith(_PAGE_PREFIXES):
        return RouteClass.PAGE
    return RouteClass.API


class SecurityHeaders:
    """Adds the route class's headers to every response (errors and refusals included)."""

    def __init__(self, app: ASGIApp, *, https: bool = False, rpc_url: str | None = None) -> None:
        self.app = app
        # PUBLIC_RPC_URL: the one other origin the resolver page's verifier may ask.
        resolver = {
            **POLICIES[RouteClass.RESOLVER],
            "Content-Security-Policy": resolver_csp(rpc_url),
        }
        self.policies = {**POLICIES, RouteClass.RESOLVER: resolver}
        # Only over HTTPS: a browser ignores HSTS on plain HTTP, and dev runs on it.
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policies[route_class(scope.get("path", ""))]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in policy.items():
                    if name not in headers:
                        headers[name] = value
                if self.https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
