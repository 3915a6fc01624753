"""Requests bounded before anything parses them: body size (413), JSON depth (400), and no NUL
character anywhere (422: PostgreSQL text cannot hold one, SQLite would store it silently).

The whole body is read here, up to the cap, before the application sees a byte of it: a body over
the cap gets 413 whether it was announced by Content-Length or streamed in chunks (an exception
raised inside FastAPI's body reading would become a 400), and a nesting depth over the bound gets
400 before `json.loads` or pydantic recurse into it (see core.json_bounds).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.json_bounds import DEFAULT_MAX_DEPTH, JsonTooDeepError, check_json_bounds

MAX_BODY_BYTES = 2 * 1024 * 1024
# Bodies up to this size are scanned on the event loop (well under a millisecond).
_SCAN_INLINE_BYTES = 64 * 1024


class BodyGuard:
    """413 for a body larger than `limit`; 400 for one nested deeper than `max_depth`."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        refused: Counter[str] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.max_depth = max_depth
        # Refusals by reason ("too_large", "too_deep"), for /metrics.
        self.refused: Counter[str] = refused if refused is not None else Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _nul_in_url(scope)
        if where is not None:
            self.refused["nul"] += 1
            await _refuse_nul(send, where)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                self.refused["too_large"] += 1
                await _refuse(send, 413, f"request body larger than {self.limit} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                self.refused["too_large"] += 1
                await _refuse(send, 413, f"request body larger than {self.limit} bytes")
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        try:
            # Every body is checked: FastAPI parses a body without a Content-Type as JSON too.
            # A large one is scanned off the event loop (up to ~0.2 s of CPU at the cap), so a
            # few hostile bodies cannot stall every other request meanwhile.
            if len(body) > _SCAN_INLINE_BYTES:
                await anyio.to_thread.run_sync(self._check, body)
            else:
                self._check(body)
        except JsonTooDeepError as exc:
            self.refused["too_deep"] += 1
            await _refuse(send, 400, str(exc))
            return
        if b"\x00" in body or _JSON_NUL.search(body):
            self.refused["nul"] += 1
            await _refuse_nul(send, "body")
            return
        await self.app(scope, _replay(body, receive), send)

    def _check(self, body: bytes) -> None:
        check_json_bounds(body, max_depth=self.max_depth)


# A \u0000 escape in JSON text, unless its backslash is itself escaped ("\\u0000" is text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    if b"%00" in scope.get("query_string", b"") or b"\x00" in scope.get("query_string", b""):
        return "query"
    return None


async def _refuse_nul(send: Send, where: str) -> None:
    problem: dict[str, object] = {
        "loc": [where],
        "msg": "NUL characters are not accepted",
        "type": "value_error",
    }
    await _refuse(send, 422, [problem])


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that yields the buffered body once, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, status: int, detail: str | list[dict[str, object]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
