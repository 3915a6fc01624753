"""A bounded per-process micro-cache of the resolver's item answers (page, JSON, proof bundle).

Building an item's answer costs ~16 SQL statements, the verdict and the proofs (~7 ms of CPU);
a popular item scanned many times a second would build the same bytes again and again. Each
finished answer (status 200, body and headers) is kept for RESOLVER_CACHE_SECONDS (0: off) under
everything it depends on: the path (key qualifiers included, raw and decoded), the query string
(format, lang, data attributes), JSON or page (from Accept), the raw Accept-Language header and
the public base URL. At most `max_entries` answers are kept, least recently used dropped first.

The route keeps its answers (`AnswerCache.put`); `AnswerCacheMiddleware`, just inside
api/resolver_http.py's, answers a GET it has an answer for before routing (the framework's
routing, dependencies and thread pool cost several times a hello-world's whole answer). What a
request still gets on a hit: the resolver's rate limit (the same budget the route spends), one
scan of the item (api/scan_counter.py), its own ETag check and 304, Content-Length and HEAD
(api/resolver_http.py; the gzipped form is kept beside the body, so a hit is not compressed
again), the Link header and the security headers. Only 200s of the public resolver are kept:
never an error, never an answer that sets a cookie (the resolver reads no principal, so no
answer carries per-principal data).

Why it is safe (docs/resolver.md, "Answer cache"): the answer already lags the chain by the
follower's poll interval; the cache adds at most its TTL (bounded to 10 s) to that, for every
change alike. A kept answer is an answer that was true when built, so it can only be older:
finality only grows, so nothing is shown final before it is. What goes the other way (an
erasure, a recall, a brand revoked or declared compromised) shows at most TTL later, on every
process, since each process forgets its answers by age whatever wrote the change.

Thread-safe: the sync routes run in a thread pool; two concurrent misses may both build the
answer (the second stored wins, both are right), the dictionary is only touched under a lock.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.rate_limit import Bucket, TooManyRequests
from api.resolver_http import GZIP_MIN_BYTES, HEAD_ASKED, accepts_gzip
from api.resolver_paths import is_resolver_path

# (base URL, path, raw path, query string, Accept, Accept-Language)
AnswerKey = tuple[str, str, bytes, bytes, str, str]

MAX_TTL_SECONDS = 10.0


@dataclass(frozen=True)
class CachedAnswer:
    """A finished answer: the item it is about (for its scan), its status, headers and body."""

    item_id: int
    status: int
    raw_headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    # What api/resolver_http.py would send a client accepting gzip (the same bytes: mtime 0).
    gzipped: bytes | None
    expires: float

    async def send(self, scope: Scope, send: Send) -> None:
        """The kept answer, gzipped if the request accepts it; ResolverHttp adds the rest."""
        headers = list(self.raw_headers)
        body = self.body
        if self.gzipped is not None and accepts_gzip(Headers(scope=scope).get("accept-encoding")):
            body = self.gzipped
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers += [(b"content-encoding", b"gzip"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class AnswerCache:
    """Item answers by everything they depend on, each kept `ttl_seconds` (0: nothing kept)."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"an answer cache TTL is 0-{MAX_TTL_SECONDS} s, not {ttl_seconds}")
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._answers: OrderedDict[AnswerKey, CachedAnswer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """False when RESOLVER_CACHE_SECONDS is 0."""
        return self.ttl > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._answers)

    @staticmethod
    def key_of(scope: Scope) -> AnswerKey:
        """Everything an item answer depends on besides the store (JSON or page, its language
        and the key it names are all read from these)."""
        headers = Headers(scope=scope)
        return (
            scope["app"].state.chaintrace.settings.base_url,
            scope["path"],
            scope.get("raw_path") or b"",
            scope.get("query_string", b""),
            headers.get("accept", ""),
            headers.get("accept-language", ""),
        )

    def get(self, key: AnswerKey) -> CachedAnswer | None:
        """The answer kept under `key` if it is younger than the TTL."""
        if not self.enabled:
            return None
        with self._lock:
            answer = self._answers.get(key)
            if answer is None or answer.expires <= self.clock():
                if answer is not None:
                    del self._answers[key]
                self.misses += 1
                return None
            self._answers.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, request: Request, item_id: int, response: Response) -> None:
        """Keep the route's answer to a GET if it is a plain 200 with its body rendered."""
        if (
            not self.enabled
            or request.method != "GET"
            or response.status_code != 200
            or response.background is not None
        ):
            return
        body = getattr(response, "body", None)
        headers = tuple(response.raw_headers)
        if not isinstance(body, bytes) or any(
            name.lower() in (b"set-cookie", b"content-encoding") for name, _ in headers
        ):
            return
        gzipped = gzip.compress(body, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        key = self.key_of(request.scope)
        answer = CachedAnswer(item_id, 200, headers, body, gzipped, self.clock() + self.ttl)
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._answers.clear()


def answers_of(request: Request) -> AnswerCache:
    """The app's AnswerCache (create_app puts it in app.state.chaintrace)."""
    cache: AnswerCache = request.app.state.chaintrace.answers
    return cache


class AnswerCacheMiddleware:
    """Answers a resolver GET from the app's AnswerCache when it holds an answer for it: after
    the resolver's rate limit, counting the scan; everything else goes on to the routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not is_resolver_path(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state.chaintrace
        cache: AnswerCache = state.answers
        answer = cache.get(AnswerCache.key_of(scope)) if cache.enabled else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        limits = state.rate_limits
        request = Request(scope)
        identity = limits.client(request)
        if limits.enabled and not limits.exempt(identity):
            try:  # as the route's dependency does (Redis may be asked: not on the event loop)
                await run_in_threadpool(limits.hit, Bucket.RESOLVER, identity)
            except TooManyRequests as exc:  # as api/errors.py's handler answers it
                refused = JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)
                await refused(scope, receive, send)
                return
        if not scope.get(HEAD_ASKED):  # a HEAD is no scan
            state.scans.count(answer.item_id)
        await answer.send(scope, send)
