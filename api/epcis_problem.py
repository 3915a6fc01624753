"""Errors of the /epcis routes as the GS1 EPCIS 2.0 REST binding answers them: RFC 7807
`application/problem+json` with the binding's exception type; a parameter or header the route
cannot read is 400 (the binding's QueryParameterException on a query, ValidationException on a
capture), not the API's usual 422. A capture refused by the write rights (a valid event the caller
may not record there) keeps the API's 422 and its field list: the binding has no such answer.

The routers under /epcis use EpcisRoute: an error raised in such a route is rendered by the
API's own exception handler (api/errors.py: status, detail, headers such as WWW-Authenticate),
then re-dressed. Refusals made before routing (api/limits.py: a NUL, a body too large or too
deep) keep the API-wide ErrorBody; the route's OpenAPI entry documents both.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.errors import FieldError

VALIDATION = "epcisException:ValidationException"
QUERY_PARAMETER = "epcisException:QueryParameterException"
EXCEPTIONS = {
    401: "epcisException:SecurityException",
    403: "epcisException:SecurityException",
    404: "epcisException:NoSuchNameException",
    406: "epcisException:NotAcceptableException",
    409: "epcisException:ResourceAlreadyExistsException",
    413: "epcisException:CaptureLimitExceededException",
    414: "epcisException:URITooLongException",
    415: "epcisException:UnsupportedMediaTypeException",
}
TITLES = {
    400: "Invalid request",
    401: "Unauthorised request",
    403: "Forbidden",
    404: "Resource not found",
}
PROBLEM = "application/problem+json"
_KEPT_HEADERS = {"www-authenticate", "retry-after", "allow"}


class RightsRefused(FieldError):
    """A valid event the caller may not record through this endpoint: the API's 422 with its
    field list (the binding has no such answer), never re-dressed as a 400."""


def _reads_a_query(request: Request) -> bool:
    return request.method in {"GET", "HEAD", "OPTIONS"}


def _status_and_type(request: Request, exc: Exception, status: int) -> tuple[int, str]:
    unreadable = isinstance(exc, RequestValidationError) or (
        isinstance(exc, FieldError) and not isinstance(exc, RightsRefused)
    )
    if status == 422 and unreadable:
        status = 400
    if status == 400:
        return status, QUERY_PARAMETER if _reads_a_query(request) else VALIDATION
    return status, EXCEPTIONS.get(status, f"epcisException:HTTP{status}")


def _detail(body: Any) -> str:
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(
            ".".join(str(part) for part in item.get("loc", [])) + f": {item.get('msg', '')}"
            if isinstance(item, dict)
            else str(item)
            for item in detail
        )
    return str(detail)


def problem(request: Request, exc: Exception, answer: Response) -> Response:
    """The API's error answer `answer` to `exc`, as the binding's problem."""
    if not 400 <= answer.status_code < 500 or answer.media_type == PROBLEM:
        return answer  # not an error, or already the binding's (api/epcis_query_errors.py)
    try:
        body = json.loads(bytes(answer.body))
    except ValueError:
        body = {"detail": bytes(answer.body).decode(errors="replace")}
    status, kind = _status_and_type(request, exc, answer.status_code)
    if status == 422:
        return answer  # a capture's write-rights refusal keeps its field list (module docstring)
    headers = {k: v for k, v in answer.headers.items() if k.lower() in _KEPT_HEADERS}
    content = {
        "type": kind,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": _detail(body),
    }
    return JSONResponse(content, status_code=status, media_type=PROBLEM, headers=headers)


async def _rendered(request: Request, exc: Exception) -> Response | None:
    """The API's own answer to `exc` (the handler registered for its class), if it has one."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            if inspect.iscoroutinefunction(handler):
                answer: Response = await handler(request, exc)
            else:
                answer = await run_in_threadpool(handler, request, exc)
            return answer
    return None


class EpcisRoute(APIRoute):
    """A route of the EPCIS binding: its errors are the binding's problems (module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                answer = await _rendered(request, exc)
                if answer is None:
                    raise
                return problem(request, exc, answer)

        return route

    def document_answers(self, responses: dict[str, Any]) -> None:
        """The OpenAPI responses of the route as it answers: every error may come as a problem
        (and as the API-wide ErrorBody when refused before routing); what the API answers 422
        for a parameter or header is 400 here."""
        problem_content = {"schema": {"$ref": "#/components/schemas/EpcisProblem"}}
        unreadable = responses.get("422")
        if unreadable is not None and "400" not in responses:
            responses["400"] = {
                "description": "A parameter or header the route cannot read",
                "content": dict(unreadable.get("content", {})),
            }
        for code, response in responses.items():
            if code.startswith("4"):
                response.setdefault("content", {}).setdefault(PROBLEM, problem_content)
