"""The pure linkset: levels serial -> lot -> GTIN, the one gs1:defaultLink, the link a
?linkType= request goes to, and Digital Link keys of every level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from core.errors import LinkError
from core.linkset import (
    Link,
    anchor_uri,
    build_linkset,
    parse_key_path,
    platform_links,
    redirect_target,
)

BASE = "https://id.example.test"
GTIN = "09506000134352"
SCHEMA = jsonschema_rs.validator_for(
    json.loads((Path(__file__).parents[1] / "api" / "linkset.schema.json").read_text())
)
DEFAULT = "https://gs1.org/voc/defaultLink"


def _valid(document: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in SCHEMA.iter_errors(document)]
    assert errors == [], errors
    [context] = document["linkset"]
    return dict(context)


def _pip(href: str, lang: str = "en") -> Link:
    return Link("gs1:pip", href, f"page {href}", (lang,), "text/html")


def _default(href: str) -> Link:
    return Link("gs1:defaultLink", href, f"default {href}")


def test_the_most_specific_brand_default_wins_over_less_specific_ones_and_the_platforms() -> None:
    anchor = anchor_uri(BASE, GTIN, "L1", "S1")
    serial = [_default("https://brand.example/serial")]
    lot = [_default("https://brand.example/lot"), _pip("https://brand.example/lot-pip")]
    gtin = [_default("https://brand.example/gtin"), _pip("https://brand.example/pip")]
    item = f"{BASE}/01/{GTIN}/21/S1"
    linkset = build_linkset(anchor, [serial, lot, gtin], platform_links(item))
    context = _valid(linkset.document())
    assert context["anchor"] == f"{BASE}/01/{GTIN}/10/L1/21/S1"
    assert [t["href"] for t in context[DEFAULT]] == ["https://brand.example/serial"]
    # Links of every level, most specific first; the platform's after the brand's.
    assert [t["href"] for t in context["https://gs1.org/voc/pip"]] == [
        "https://brand.example/lot-pip",
        "https://brand.example/pip",
    ]
    assert [t["type"] for t in context["https://gs1.org/voc/traceability"]] == [
        "text/html",
        "application/json",
    ]


def test_without_a_brand_default_the_platforms_page_is_the_default() -> None:
    item = f"{BASE}/01/{GTIN}/21/S1"
    linkset = build_linkset(
        anchor_uri(BASE, GTIN, None, "S1"),
        [[_pip("https://brand.example/pip")]],
        platform_links(item),
    )
    context = _valid(linkset.document())
    assert context[DEFAULT] == [
        {
            "href": f"{item}?format=html",
            "title": "Item history and authenticity proofs (chaintrace)",
            "hreflang": ["en"],
            "type": "text/html",
        }
    ]


@pytest.mark.parametrize(
    ("lot", "anchor"),
    [(None, f"{BASE}/01/{GTIN}"), ("A/1", f"{BASE}/01/{GTIN}/10/A%2F1")],
)
def test_gtin_and_lot_level_linksets_without_platform_links(lot: str | None, anchor: str) -> None:
    levels = [[_pip("https://brand.example/lot", "de")]] if lot else []
    levels.append([Link("gs1:certificationInfo", "https://cert.example/1", "Organic")])
    linkset = build_linkset(anchor_uri(BASE, GTIN, lot), levels)
    context = _valid(linkset.document())
    assert context["anchor"] == anchor
    # No default anywhere: the first link (most specific level) is promoted to it.
    first = "https://brand.example/lot" if lot else "https://cert.example/1"
    assert [t["href"] for t in context[DEFAULT]] == [first]


def test_no_link_at_all_is_an_error_not_an_empty_linkset() -> None:
    with pytest.raises(LinkError):
        build_linkset(anchor_uri(BASE, GTIN), [[], []])


def test_the_same_link_on_two_levels_is_listed_once() -> None:
    pip = _pip("https://brand.example/pip")
    context = _valid(build_linkset(anchor_uri(BASE, GTIN), [[pip], [pip]]).document())
    assert len(context["https://gs1.org/voc/pip"]) == 1


def test_a_link_type_is_asked_for_by_prefix_or_uri() -> None:
    linkset = build_linkset(anchor_uri(BASE, GTIN), [[_pip("https://a.example/1")]])
    assert linkset.first("gs1:pip") == linkset.first("https://gs1.org/voc/pip")
    assert linkset.first("https://ref.gs1.org/voc/pip") is not None
    assert linkset.first("gs1:recallStatus") is None
    with pytest.raises(LinkError):
        linkset.first("gs1:notAType")


@pytest.mark.parametrize(
    ("href", "query", "target"),
    [
        ("https://a.example/p", [("linkType", "gs1:pip")], "https://a.example/p"),
        (
            "https://a.example/p",
            [("linkType", "gs1:pip"), ("x", "1 2")],
            "https://a.example/p?x=1+2",
        ),
        ("https://a.example/p?k=v", [("x", "&")], "https://a.example/p?k=v&x=%26"),
        ("https://a.example/p#top", [("x", "1")], "https://a.example/p?x=1#top"),
        # The link's own parameter stands: never a second value for a client to misread.
        (
            "https://a.example/p?format=html",
            [("format", "json"), ("y", "2")],
            "https://a.example/p?format=html&y=2",
        ),
    ],
)
def test_redirects_pass_the_other_query_parameters_on(
    href: str, query: list[tuple[str, str]], target: str
) -> None:
    assert redirect_target(href, query) == target


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (f"/01/{GTIN}", (GTIN, None, None)),
        (f"/01/{GTIN}/", (GTIN, None, None)),
        ("/01/9506000134352", (GTIN, None, None)),
        (f"/01/{GTIN}/10/L%2F1", (GTIN, "L/1", None)),
        (f"/01/{GTIN}/22/V1/10/L1", (GTIN, "L1", None)),
        (f"/01/{GTIN}/21/S1", (GTIN, None, "S1")),
        (f"/01/{GTIN}/10/L1/21/S1/", (GTIN, "L1", "S1")),
        (f"/01/{GTIN[:-1]}3", None),  # check digit
        (f"/01/{GTIN}/10", None),
        (f"/01/{GTIN}/10/L1/22/V1", None),  # qualifier order
        (f"/01/{GTIN}/10/L1/10/L2", None),
        (f"/01/{GTIN}/99/X", None),
        ("/02/09506000134352", None),
    ],
)
def test_digital_link_keys_of_every_level(
    path: str, key: tuple[str, str | None, str | None] | None
) -> None:
    assert parse_key_path(path) == key
