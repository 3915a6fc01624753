"""GS1-Conformant Resolver linkType rules over HTTP against a running API: the linkset (RFC 9264
JSON, validated against tests/api/linkset.schema.json), 307 to a requested link type, 404 when
absent, the Link header to the linkset on every answer, and the one gs1:defaultLink."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.api.flows import PUBLIC_BASE_URL, auth
from tests.api.link_support import DEFAULT, LINKSET_TYPE, http, link_body, valid_linkset
from tests.api.served_support import Served, served  # noqa: F401 (served: a pytest fixture)

PIP = "https://gs1.org/voc/pip"
TRACEABILITY = "https://gs1.org/voc/traceability"


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[httpx.Client]:  # noqa: F811
    with http(served.url) as c:
        yield c


@pytest.fixture(scope="module")
def links(served: Served, client: httpx.Client) -> dict[str, str]:  # noqa: F811
    """The brand's links: a GTIN-level pip and certification, a lot-level pip for lot L7, a
    serial-level recall for A2 and a serial-level default for S1. Returns hrefs by name."""
    world = served.world
    hrefs = {
        "pip": "https://acme.example/pip?src=qr",
        "cert": "https://cert.example/acme",
        "lot_pip": "https://acme.example/lots/L7",
        "recall": "https://acme.example/recall/A2",
        "default": "https://acme.example/s1-welcome",
    }
    bodies = [
        link_body("gs1:pip", hrefs["pip"], hreflang=["en"], type="text/html"),
        link_body("gs1:certificationInfo", hrefs["cert"]),
        link_body("gs1:pip", hrefs["lot_pip"], lot="L7", hreflang=["de"]),
        link_body("gs1:recallStatus", hrefs["recall"], serial="A2"),
        link_body("gs1:defaultLink", hrefs["default"], serial="S1"),
    ]
    for body in bodies:
        reply = client.post(
            f"/products/{world.gtin}/links", json=body, headers=auth(world.brand_key)
        )
        assert reply.status_code == 201, reply.text
    return hrefs


def _item(served: Served, serial: str) -> str:  # noqa: F811
    return f"/01/0{served.world.gtin}/21/{quote(serial, safe='')}"


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"linkType": "linkset"}, {}),
        ({"linkType": "all"}, {}),
        ({}, {"Accept": LINKSET_TYPE}),
        ({}, {"Accept": f"text/html;q=0.5, {LINKSET_TYPE}"}),
        ({"linkType": "linkset"}, {"Accept": "text/html"}),
    ],
)
def test_linkset_rfc9264_for_linktype_all_linkset_and_accept(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
    query: dict[str, str],
    headers: dict[str, str],
) -> None:
    path = _item(served, "A1")
    context = valid_linkset(client.get(path, params=query, headers=headers))
    assert context["anchor"] == PUBLIC_BASE_URL + path
    # Links of each level up to the primary key (no lot named, none recorded: GTIN level).
    assert [t["href"] for t in context[PIP]] == [links["pip"]]
    assert context[PIP][0] == {
        "href": links["pip"],
        "title": f"gs1:pip of {links['pip']}",
        "hreflang": ["en"],
        "type": "text/html",
    }
    assert [t["href"] for t in context["https://gs1.org/voc/certificationInfo"]] == [links["cert"]]
    assert "https://gs1.org/voc/recallStatus" not in context  # A2's link, not A1's
    # No brand default for A1: chaintrace's item page is the one default.
    assert [t["href"] for t in context[DEFAULT]] == [f"{PUBLIC_BASE_URL}{path}?format=html"]
    assert {t["type"] for t in context[TRACEABILITY]} == {"text/html", "application/json"}


def test_a_browser_still_gets_the_page(served: Served, client: httpx.Client) -> None:  # noqa: F811
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    reply = client.get(_item(served, "A1"), headers={"Accept": browser})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")


def test_linkset_holds_serial_lot_and_gtin_levels(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
) -> None:
    gtin = served.world.gtin
    lot_path = f"/01/0{gtin}/10/L7/21/A2"
    context = valid_linkset(client.get(lot_path, params={"linkType": "linkset"}))
    assert context["anchor"] == PUBLIC_BASE_URL + lot_path
    assert [t["href"] for t in context[PIP]] == [links["lot_pip"], links["pip"]]
    assert [t["href"] for t in context["https://gs1.org/voc/recallStatus"]] == [links["recall"]]


def test_the_brands_most_specific_default_replaces_chaintraces(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
) -> None:
    path = _item(served, "S1")
    context = valid_linkset(client.get(path, params={"linkType": "all"}))
    assert [t["href"] for t in context[DEFAULT]] == [links["default"]]
    # chaintrace's page stays in the linkset under its own type.
    assert f"{PUBLIC_BASE_URL}{path}?format=html" in [t["href"] for t in context[TRACEABILITY]]
    reply = client.get(path, params={"linkType": "gs1:defaultLink"})
    assert reply.status_code == 307 and reply.headers["location"] == links["default"]


@pytest.mark.parametrize("link_type", ["gs1:pip", "https://gs1.org/voc/pip"])
def test_linktype_redirects_307_with_the_other_query_parameters(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
    link_type: str,
) -> None:
    reply = client.get(
        _item(served, "A1"), params={"linkType": link_type, "lang": "de", "x": "a&b"}
    )
    assert reply.status_code == 307, reply.text
    assert reply.headers["location"] == f"{links['pip']}&lang=de&x=a%26b"


def test_linktype_traceability_leads_to_chaintraces_page(
    served: Served,  # noqa: F811
    client: httpx.Client,
) -> None:
    path = _item(served, "A1")
    reply = client.get(path, params={"linkType": "gs1:traceability"})
    assert reply.status_code == 307
    assert reply.headers["location"] == f"{PUBLIC_BASE_URL}{path}?format=html"
    page = client.get(path, params={"format": "html"}, headers={"Accept": LINKSET_TYPE})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("link_type", ["gs1:recallStatus", "gs1:epcis", "gs1:notAType", "pip"])
def test_linktype_absent_is_404(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
    link_type: str,
) -> None:
    # A1 has no recall link (A2 has); chaintrace publishes no gs1:epcis link (no public
    # projection endpoint yet); an unknown type is no link either.
    reply = client.get(_item(served, "A1"), params={"linkType": link_type})
    assert reply.status_code == 404, reply.text
    assert "location" not in reply.headers
    assert reply.json()["detail"]


def test_unknown_serial_has_no_linkset(served: Served, client: httpx.Client) -> None:  # noqa: F811
    reply = client.get(_item(served, "NOPE1"), params={"linkType": "linkset"})
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ({}, {"Accept": "text/html"}, 200),
        ({"format": "json"}, {}, 200),
        ({"linkType": "linkset"}, {}, 200),
        ({"linkType": "gs1:pip"}, {}, 307),
        ({"linkType": "gs1:recallStatus"}, {}, 404),
    ],
)
def test_every_resolver_answer_links_to_the_linkset(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
    query: dict[str, str],
    headers: dict[str, str],
    status: int,
) -> None:
    path = _item(served, "A1")
    reply = client.get(path, params=query, headers=headers)
    assert reply.status_code == status
    expected = f'<{PUBLIC_BASE_URL}{path}?linkType=linkset>; rel="linkset"; type="{LINKSET_TYPE}"'
    assert expected in reply.headers.get_list("link")


def test_unknown_items_answer_also_links_to_the_linkset(
    served: Served,  # noqa: F811
    client: httpx.Client,
) -> None:
    path = _item(served, "NOPE2")
    reply = client.get(path, headers={"Accept": "application/json"})
    assert reply.status_code == 404
    assert any('rel="linkset"' in value for value in reply.headers.get_list("link"))


@pytest.mark.parametrize("suffix", ["", "/", "/10/L7"])
def test_gtin_and_lot_links_have_linksets_of_the_brands_links(
    served: Served,  # noqa: F811
    client: httpx.Client,
    links: dict[str, str],
    suffix: str,
) -> None:
    path = f"/01/0{served.world.gtin}{suffix}"
    context = valid_linkset(client.get(path, params={"linkType": "linkset"}))
    assert context["anchor"] == PUBLIC_BASE_URL + path.rstrip("/")
    expected = [links["lot_pip"], links["pip"]] if "/10/" in suffix else [links["pip"]]
    assert [t["href"] for t in context[PIP]] == expected
    # No chaintrace page for a GTIN or a lot: the first link is the default.
    assert [t["href"] for t in context[DEFAULT]] == expected[:1]
    assert TRACEABILITY not in context


def test_a_gtin_without_links_has_no_linkset(
    served: Served,  # noqa: F811
    client: httpx.Client,
) -> None:
    reply = client.get("/01/09506000134352", params={"linkType": "linkset"})
    assert reply.status_code == 404
