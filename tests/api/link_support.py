"""Shared by the link registry and resolver linkset tests: the linkset schema, a client for the
served API, link bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs

LINKSET_SCHEMA = jsonschema_rs.validator_for(
    json.loads((Path(__file__).parent / "linkset.schema.json").read_text())
)
LINKSET_TYPE = "application/linkset+json"
DEFAULT = "https://gs1.org/voc/defaultLink"


def http(url: str) -> httpx.Client:
    """A client of the served API that never follows redirects (a 307 is the answer)."""
    return httpx.Client(base_url=url, follow_redirects=False, timeout=60)


def valid_linkset(response: httpx.Response) -> dict[str, Any]:
    """The one link context of a linkset answer, after checking status, type and schema."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"] == LINKSET_TYPE
    document = response.json()
    problems = [error.message for error in LINKSET_SCHEMA.iter_errors(document)]
    assert problems == [], problems
    [context] = document["linkset"]
    return dict(context)


def link_body(link_type: str, href: str, **extra: Any) -> dict[str, Any]:
    """A POST /products/{gtin}/links body."""
    return {"linkType": link_type, "href": href, "title": f"{link_type} of {href}", **extra}
