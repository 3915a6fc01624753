"""The EPCIS query routes' own problems (application/problem+json with an epcisException type,
api/errors.EpcisQueryProblem): 400 and 501 for query parameters (api/epcis_parameters.py), 404
for an event absent or not the caller's, 406 for an Accept header no JSON answer satisfies. The
API's other errors on these routes are re-dressed as problems by api/epcis_problem.EpcisRoute."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.errors import EpcisQueryProblem

_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/EpcisProblem"}
# Media types a query answer is (JSON-LD is JSON): an Accept header must allow one of them.
_SERVED = ("application/json", "application/ld+json", "application/*", "*/*")

DESCRIPTIONS = {
    400: "QueryParameterException: an unknown query parameter, or one given twice",
    404: "NoSuchNameException: no such resource among those the caller may see (a path "
    "no route matches, e.g. one with a line break, is the API's ErrorBody)",
    406: "NotAcceptableException: the Accept header allows no JSON answer",
    501: "ImplementationException: an EPCIS 2.0 query parameter not evaluated here",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of these problem statuses."""
    return {code: _doc(code) for code in codes}


def _doc(code: int) -> dict[str, Any]:
    content: dict[str, Any] = {"application/problem+json": {"schema": _PROBLEM_SCHEMA}}
    if code == 404:  # the router's own 404 comes before any route
        content["application/json"] = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    return {"description": DESCRIPTIONS[code], "content": content}


def not_found(detail: str) -> EpcisQueryProblem:
    """404 NoSuchNameException (the type GS1's 404ResourceNotFound schema allows; its example
    says NoSuchResourceException)."""
    return EpcisQueryProblem(
        404, "epcisException:NoSuchNameException", "Resource not found", detail
    )


def _allows_json(accept: str) -> bool:
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            refused = float(quality) <= 0
        except ValueError:
            refused = False  # a malformed weight is read as the default (RFC 9110: 1)
        if media.lower() in _SERVED and not refused:
            return True
    return False


def acceptable(request: Request) -> None:
    """406 NotAcceptableException unless the Accept header (if any) allows JSON."""
    accept = request.headers.get("accept")
    if accept is not None and accept.strip() and not _allows_json(accept):
        raise EpcisQueryProblem(
            406,
            "epcisException:NotAcceptableException",
            "Not acceptable",
            f"Accept {accept[:100]!r}: this resource answers application/json (JSON-LD)",
        )
