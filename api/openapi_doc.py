"""What the OpenAPI document says each route can answer besides its success: every error status
with the body it carries.

A route names the errors of its own logic (`responses=errors(404, 409)`); those that come with a
dependency or a request body are added to every route that has them (`document_errors`): a key
(401, 429), a role (403), the chain (502, 503), a body (400, 413, 422), parameters (422). The
fuzzing test (tests/api/test_openapi_fuzz.py) fails on any status a route answers undocumented.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from api.schemas.common import GTIN_PATTERN, HEX32_PATTERN, SERIAL_PATTERN

_F = TypeVar("_F", bound=Callable[..., Any])

DESCRIPTIONS = {
    400: "Malformed request: a JSON body nested deeper than the bound",
    401: "No API key, or one that is unknown, revoked, expired or of a disabled principal",
    403: "The key's principal may not do this (role, or not a party of the resource)",
    404: "No such resource, or one the caller may not see",
    409: "The resource's state does not allow this now (the detail says what is missing)",
    410: "The draft expired: start again",
    413: "Request body larger than the bound",
    422: "Invalid input: `detail` lists each field and what is wrong with it",
    429: "Rate limit spent: retry after the Retry-After header's seconds",
    502: "The chain node answered with an error",
    503: "The chain is not configured or not reachable: try again later",
}


class FieldProblem(BaseModel):
    """One invalid input: where (`loc`, e.g. ["body", "terms", "amountWei"]) and what."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None


class ErrorBody(BaseModel):
    """Every error answer: `detail` (a sentence, or for 422 the list of field problems); a
    contract's refusal adds the Solidity error's name and arguments."""

    model_config = ConfigDict(extra="forbid")

    detail: str | list[FieldProblem]
    error: str | None = Field(default=None, description="The contract's Solidity error")
    args: dict[str, Any] | None = Field(default=None, description="The Solidity error's arguments")
    event_id: str | None = Field(
        default=None, alias="eventId", description="409: the id of the event already recorded"
    )
    more: int | None = Field(default=None, description="422: problems left out of the list")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry of a route for the error statuses its own logic answers with."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


def answers(*codes: int) -> Callable[[_F], _F]:
    """Marks a dependency with the error statuses it answers with (document_errors reads it)."""

    def mark(func: _F) -> _F:
        func.__dict__["error_statuses"] = frozenset(codes)
        return func

    return mark


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def route_error_statuses(route: APIRoute) -> set[int]:
    """The statuses a route's dependencies, body and parameters bring."""
    statuses: set[int] = set()
    for dependant in _dependencies(route.dependant):
        statuses |= getattr(dependant.call, "error_statuses", frozenset())
    flat = route.dependant
    has_params = any(
        (flat.path_params, flat.query_params, flat.header_params, flat.cookie_params)
    ) or any(d.path_params or d.query_params or d.header_params for d in _dependencies(flat))
    if route.body_field is not None:
        statuses |= {400, 413, 422}
    elif has_params:
        statuses.add(422)
    return statuses


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """The API routes, those of included routers too (FastAPI keeps an included router whole,
    as a route holding `original_router`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from api_routes(router.routes)


# Path parameters the routes take as plain strings and check themselves (a mismatch is 404).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "shipment_id": {"pattern": HEX32_PATTERN, "description": "0x and 64 hex digits"},
    "root": {"pattern": HEX32_PATTERN, "description": "A Merkle root: 0x and 64 hex digits"},
    "draft_id": {"pattern": "^[A-Za-z0-9]{1,32}$"},
    "gtin": {"pattern": GTIN_PATTERN, "format": "gs1-gtin"},
    "serial": {"pattern": SERIAL_PATTERN, "description": "AI 21: 1-20 GS1 CS82 characters"},
    "lot": {"pattern": SERIAL_PATTERN, "description": "AI 10: 1-20 GS1 CS82 characters"},
}


def _path_parameters(document: dict[str, Any], route: APIRoute) -> Iterator[dict[str, Any]]:
    for method in route.methods or ():
        for parameter in document["paths"][route.path_format][method.lower()].get("parameters", []):
            if parameter.get("in") == "path":
                yield parameter


# api/limits.py refuses NUL anywhere in a request (PostgreSQL text cannot hold it).
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _no_nul(node: Any) -> None:
    """Every free-form string (no pattern, enum, const or format of its own) says: no NUL."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not node.keys() & {
            "pattern",
            "enum",
            "const",
            "format",
        }:
            node["pattern"] = NO_NUL_PATTERN
        for value in node.values():
            _no_nul(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul(value)


def _fastapi_default(response: dict[str, Any]) -> bool:
    """FastAPI's own 422 entry (HTTPValidationError): the API's handler answers ErrorBody."""
    return "HTTPValidationError" in str(response.get("content", {}))


def _components(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def _unique_operation_ids(document: dict[str, Any]) -> None:
    """Suffix every operationId that several operations share with the operation's method
    (OpenAPI requires them unique)."""
    operations = [
        (method, operation)
        for path_item in document["paths"].values()
        for method, operation in path_item.items()
    ]
    counts = Counter(op.get("operationId") for _, op in operations)
    for method, operation in operations:
        if operation.get("operationId") is not None and counts[operation["operationId"]] > 1:
            operation["operationId"] = f"{operation['operationId']}_{method}"


def document_errors(app: FastAPI, models: Iterable[type[BaseModel]] = ()) -> None:
    """Makes the app's OpenAPI document add to every route the error responses its
    dependencies, body and parameters bring, and the schemas of `models`: those a route's own
    description refers to (a body it parses itself, a response it builds itself)."""
    models = (ErrorBody, *models)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        with warnings.catch_warnings():
            # A route of several methods (the resolver's GET, HEAD, OPTIONS) gives each the same
            # operationId; _unique_operation_ids names them apart below.
            warnings.filterwarnings("ignore", message="Duplicate Operation ID")
            document = generate()
        _unique_operation_ids(document)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in _components(models).items():
            components.setdefault(name, schema)
        for route in api_routes(app.routes):
            if not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = document["paths"][route.path_format][method.lower()]
                responses = operation["responses"]
                for code in sorted(route_error_statuses(route)):
                    if str(code) in responses and not _fastapi_default(responses[str(code)]):
                        continue  # the route described it itself
                    responses[str(code)] = {
                        "description": DESCRIPTIONS[code],
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorBody"}
                            }
                        },
                    }
                answers = getattr(route, "document_answers", None)  # api/epcis_problem.py
                if answers is not None:
                    answers(responses)
            for parameter in _path_parameters(document, route):
                parameter["schema"].update(PATH_PARAMETERS.get(parameter["name"], {}))
        _no_nul(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
