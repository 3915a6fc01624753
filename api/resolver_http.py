"""HTTP caching and compression of the resolver's answers (api/resolver_paths.py says which).

Every answer says `Cache-Control: no-cache`: a cache may keep it but must revalidate, so every
scan reaches the API (and its rate limit) and the brand can count it; a 200 carries a strong
`ETag` (a hash of the bytes sent), and `If-None-Match` naming it gets a 304 without a body.
Answers of at least GZIP_MIN_BYTES are gzipped for clients that accept it. HEAD is answered as
GET is (same status and headers, the same ETag and Content-Length), without the body.
"""

from __future__ import annotations

import gzip
import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.resolver_paths import is_resolver_path

GZIP_MIN_BYTES = 500
CACHE_CONTROL = "no-cache"


def etag_of(body: bytes) -> str:
    """A strong entity tag: the first 128 bits of the body's SHA-256."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def none_match(header: str | None, etag: str) -> bool:
    """True if an If-None-Match header names `etag` (weak comparison, as RFC 9110 13.1.2 says)."""
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def accepts_gzip(header: str | None) -> bool:
    """True if Accept-Encoding names gzip (or *) without q=0."""
    for part in (header or "").split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() not in ("gzip", "*"):
            continue
        refused = any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00") for p in params)
        return not refused
    return False


# In the scope of a HEAD answered as a GET: what the client asked for (a HEAD is no scan).
HEAD_ASKED = "chaintrace.head"


class ResolverHttp:
    """Buffers each resolver answer, then adds Cache-Control and ETag, answers 304, gzips."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_resolver_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        inner = {**scope, "method": "GET", HEAD_ASKED: True} if head else scope
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                await send(message)

        await self.app(inner, receive, keep)
        if start is None:
            return
        body = b"".join(chunks)
        headers = MutableHeaders(raw=list(start["headers"]))
        request = Headers(scope=scope)
        headers["Cache-Control"] = CACHE_CONTROL
        headers.add_vary_header("Accept-Encoding")
        headers.add_vary_header("Accept-Language")  # the page's language (api/page_language.py)
        if (
            len(body) >= GZIP_MIN_BYTES
            and "content-encoding" not in headers
            and accepts_gzip(request.get("accept-encoding"))
        ):
            body = gzip.compress(body, mtime=0)  # mtime 0: the same answer, the same bytes
            headers["Content-Encoding"] = "gzip"
        status = start["status"]
        if status == 200 and scope["method"] in ("GET", "HEAD"):
            headers["ETag"] = etag_of(body)
            if none_match(request.get("if-none-match"), headers["ETag"]):
                status, body = 304, b""
                for name in ("content-type", "content-length", "content-encoding"):
                    del headers[name]
        if status in (204, 304):  # no body, and no Content-Length either (RFC 9110 8.6)
            del headers["content-length"]
        else:
            headers["Content-Length"] = str(len(body))
        await send({**start, "status": status, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b"" if head else body})
