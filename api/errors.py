"""HTTP errors of the API and the handlers that turn store, core and chain errors into them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from api.openapi_doc import api_routes
from chain import solidity_errors as se
from chain.errors import ChainConnectionError, ChainError, ContractRevert
from core.errors import CoreValueError
from core.hexstr import hex0x
from store.errors import (
    DraftExpiredError,
    DuplicateEventError,
    InvalidTransitionError,
    NotFoundError,
    StoreValueError,
)

_LOGGER = logging.getLogger(__name__)

# What a user reads instead of a Solidity error's name is the error's NatSpec @notice, carried by
# the generated class (chain/solidity_errors.py). The released contracts give these errors no
# notice (OpenZeppelin's documents AccessControlUnauthorizedAccount as @dev; TraceAnchor v2 was
# released without notices on its new errors) or one a later release outgrew (AnchorInvalidKind
# is v1's "0 or 1"; v2 takes 3 too): their sentences live here until a release carries them.
# tests/api/test_api_errors.py fails when an error has neither.
_WITHOUT_NOTICE = {
    "AccessControlUnauthorizedAccount": "the sending wallet lacks the role this call needs",
    "AnchorBrandCompromised": (
        "the brand's key is recorded as compromised and can no longer sign roots"
    ),
    "AnchorInvalidCompromiseTime": (
        "the compromise time must be set, not in the future, and earlier than any recorded one"
    ),
    "AnchorInvalidGtin": "the GTIN must be 14 digits",
    "AnchorInvalidKind": (
        "the leaf kind must be 0 (event), 1 (errorDeclaration) or 3 (passport); kind 2 leaves "
        "are built by memberLeafHash"
    ),
    "AnchorNotPrefixHolder": "only the current holder of the root's company prefix may re-sign it",
    "AnchorPlatformRoot": "a platform root has no brand signature to restore",
    "AnchorRootEndorsed": "this root was already re-signed, or its own signer cannot re-sign it",
    "AnchorUnknownRoot": "this root is not anchored",
}
_ERRORS_BY_NAME = {error.__name__: error for error in se.ALL}

# Reverts that say the caller's input is wrong (422) rather than the state being in the way (409).
_INPUT_REVERTS = frozenset(
    {
        "AnchorInvalidBrand",
        "AnchorInvalidKind",
        "AnchorInvalidPrefix",
        "AnchorZeroLeafCount",
        "AnchorZeroRoot",
        "EscrowInvalidArbiter",
        "EscrowInvalidDurations",
        "EscrowInvalidPayee",
        "EscrowInvalidPenaltyCap",
        "EscrowInvalidSplit",
        "EscrowInvalidTemperatureBand",
        "EscrowInvalidToken",
        "EscrowUnsupportedToken",
        "EscrowZeroAmount",
        "EscrowV2InvalidArbiter",
        "EscrowV2InvalidAutoAccept",
        "EscrowV2InvalidDeliveryBasis",
        "EscrowV2InvalidDurations",
        "EscrowV2InvalidHumidityBand",
        "EscrowV2InvalidParties",
        "EscrowV2InvalidPenaltyCap",
        "EscrowV2InvalidRadius",
        "EscrowV2InvalidRefundGrace",
        "EscrowV2InvalidSplit",
        "EscrowV2InvalidTemperatureBand",
        "EscrowV2InvalidToken",
        "EscrowV2InvalidTraceAnchor",
        "EscrowV2NoDevices",
        "EscrowV2UnsupportedToken",
        "EscrowV2ZeroAmount",
    }
)


def revert_message(name: str) -> str | None:
    """The sentence the API shows for the custom error `name` (None: it has none)."""
    error = _ERRORS_BY_NAME.get(name)
    return _WITHOUT_NOTICE.get(name) or (error.notice if error is not None else None)


class ApiError(Exception):
    """An error with an HTTP status and a JSON `detail`."""

    status_code = 400

    def __init__(self, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        self.headers = headers


class Unauthorized(ApiError):
    """401: no API key, or one that is unknown or revoked."""

    status_code = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    """403: the principal's role or ownership does not allow this."""

    status_code = 403


class NotFound(ApiError):
    """404: nothing with that name exists (or the principal may not see it)."""

    status_code = 404


class Conflict(ApiError):
    """409: the request is valid but the current state does not allow it."""

    status_code = 409


class ChainUnavailable(ApiError):
    """503: the endpoint needs the chain and none is configured or reachable."""

    status_code = 503


class FieldError(ApiError):
    """422 naming the offending field, in FastAPI's validation-error shape."""

    status_code = 422

    def __init__(self, loc: Sequence[str | int], msg: str) -> None:
        super().__init__([{"loc": list(loc), "msg": msg, "type": "value_error"}])
        self.loc = list(loc)
        self.msg = msg

    def __str__(self) -> str:
        return f"{'.'.join(map(str, self.loc))}: {self.msg}"


class EpcisQueryProblem(Exception):
    """An EPCIS query error in the binding's RFC 7807 shape (application/problem+json): its
    status, its epcisException type, a title and a sentence."""

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        return hex0x(value)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def revert_body(exc: ContractRevert) -> dict[str, Any]:
    """The JSON body for a decoded revert: a sentence, the error name and its arguments."""
    message = revert_message(exc.name) or str(exc)
    return {
        "detail": f"the contract refused: {message}",
        "error": exc.name,
        "args": {k: _json(v) for k, v in exc.args_dict.items()},
    }


def revert_status(exc: ContractRevert) -> int:
    """422 for a revert caused by bad input, 409 for one caused by state."""
    return 422 if exc.name in _INPUT_REVERTS else 409


# A 422 repeats the offending input only when it is a short scalar: echoing a large or deeply
# nested body back would cost as much to encode as the attack did to send.
_ECHO_MAX_CHARS = 64


def _validation_item(error: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "loc": [part if isinstance(part, int | str) else str(part) for part in error["loc"]],
        "msg": str(error.get("msg", ""))[:500],
        "type": str(error.get("type", "value_error")),
    }
    value = error.get("input")
    scalar = value is None or isinstance(value, bool | int | float | str)
    if scalar and len(repr(value)) <= _ECHO_MAX_CHARS:
        item["input"] = value
    return item


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    """FastAPI's 422 shape (`detail`: loc, msg, type per error), without large inputs."""
    errors = exc.errors()
    body: dict[str, Any] = {"detail": [_validation_item(e) for e in errors[:20]]}
    if len(errors) > 20:
        body["more"] = len(errors) - 20
    return body


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route serves at the request's path (Starlette's 405 names only those of
    the first route it found: GET /x and POST /x are two routes)."""
    methods: set[str] = set()
    for route in api_routes(app.router.routes):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; every error body is JSON with a `detail`."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc), 422)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(EpcisQueryProblem)
    async def _epcis_query(_request: Request, exc: EpcisQueryProblem) -> JSONResponse:
        body = {"type": exc.kind, "title": exc.title, "status": exc.status, "detail": exc.detail}
        return JSONResponse(body, exc.status, media_type="application/problem+json")

    @app.exception_handler(DraftExpiredError)
    async def _draft_expired(_request: Request, exc: DraftExpiredError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 410)

    @app.exception_handler(NotFoundError)
    async def _not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 404)

    @app.exception_handler(DuplicateEventError)
    async def _duplicate(_request: Request, exc: DuplicateEventError) -> JSONResponse:
        body = {"detail": "this event is already recorded", "eventId": exc.existing_event_id}
        return JSONResponse(body, 409)

    @app.exception_handler(InvalidTransitionError)
    async def _transition(_request: Request, exc: InvalidTransitionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    @app.exception_handler(StoreValueError)
    async def _store_value(_request: Request, exc: StoreValueError) -> JSONResponse:
        body = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": body}, 422)

    @app.exception_handler(CoreValueError)
    async def _core_value(_request: Request, exc: CoreValueError) -> JSONResponse:
        body = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": body}, 422)

    @app.exception_handler(IntegrityError)
    async def _conflict(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique thing; the loser learns it exists.
        _LOGGER.info("integrity conflict: %s", exc.orig)
        return JSONResponse({"detail": "this already exists (a concurrent request won)"}, 409)

    @app.exception_handler(ContractRevert)
    async def _revert(_request: Request, exc: ContractRevert) -> JSONResponse:
        return JSONResponse(revert_body(exc), revert_status(exc))

    @app.exception_handler(ChainConnectionError)
    async def _chain_down(_request: Request, exc: ChainConnectionError) -> JSONResponse:
        _LOGGER.warning("chain unreachable: %s", exc)
        return JSONResponse({"detail": "the chain node is unreachable, try again later"}, 503)

    @app.exception_handler(ChainError)
    async def _chain(_request: Request, exc: ChainError) -> JSONResponse:
        _LOGGER.warning("chain error: %s", exc)
        return JSONResponse({"detail": f"chain error: {exc}"}, 502)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged in full here; the client learns nothing about the internals.
        _LOGGER.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, 500)
