"""The link registry over HTTP: a brand manages resolver links for its own GTINs (GTIN, lot and
serial levels); nobody else can add, list or delete them; hostile links are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account import Account

from store.link_registry import MAX_LINKS_PER_KEY
from tests.api.flows import PREFIX, auth, gtin13
from tests.api.link_support import http, link_body
from tests.api.served_support import Served, served  # noqa: F401 (served: a pytest fixture)

OTHER_PREFIX = "0712345"


@pytest.fixture(scope="module")
def client(served: Served) -> Iterator[httpx.Client]:  # noqa: F811
    with http(served.url) as c:
        yield c


@pytest.fixture(scope="module")
def other_brand(served: Served) -> tuple[str, str]:  # noqa: F811
    """Another brand with a product of its own: (key, GTIN-13)."""
    api = served.world.api
    key = api.brand(Account.create(), OTHER_PREFIX, "Other Brand")
    gtin = gtin13(OTHER_PREFIX, "00042")
    api.product(key, gtin, "Their product")
    return key, gtin


def _links(client: httpx.Client, key: str, gtin: str, **query: str) -> list[dict[str, Any]]:
    reply = client.get(f"/products/{gtin}/links", params=query, headers=auth(key))
    assert reply.status_code == 200, reply.text
    return list(reply.json())


def test_a_brand_adds_lists_and_deletes_links_of_every_level(
    served: Served,  # noqa: F811
    client: httpx.Client,
) -> None:
    world = served.world
    gtin, key = world.gtin, world.brand_key
    bodies = [
        link_body(
            "gs1:pip", "https://acme.example/pip", hreflang=["en", "de-CH"], type="text/html"
        ),
        link_body("https://gs1.org/voc/certificationInfo", "https://cert.example/acme", lot="L-1"),
        link_body("gs1:recallStatus", "https://acme.example/recall/S1", serial="S1"),
    ]
    created = []
    for body in bodies:
        reply = client.post(f"/products/{gtin}/links", json=body, headers=auth(key))
        assert reply.status_code == 201, reply.text
        created.append(reply.json())
    assert created[0]["gtin"] == "0" + gtin and created[0]["hreflang"] == ["en", "de-CH"]
    assert created[0]["type"] == "text/html" and created[0]["lot"] is None
    assert created[1]["linkType"] == "gs1:certificationInfo" and created[1]["lot"] == "L-1"
    assert created[2]["serial"] == "S1" and created[2]["lot"] is None
    ids = [c["id"] for c in created]
    assert [link["id"] for link in _links(client, key, gtin)] == ids
    assert [link["id"] for link in _links(client, key, gtin, serial="S1")] == [ids[2]]
    assert [link["id"] for link in _links(client, key, gtin, lot="L-1")] == [ids[1]]
    assert client.delete(f"/links/{ids[2]}", headers=auth(key)).status_code == 204
    assert [link["id"] for link in _links(client, key, gtin)] == ids[:2]
    assert client.delete(f"/links/{ids[2]}", headers=auth(key)).status_code == 404


def test_another_brands_gtin_answers_like_a_missing_one(
    served: Served,  # noqa: F811
    client: httpx.Client,
    other_brand: tuple[str, str],
) -> None:
    world = served.world
    their_key, their_gtin = other_brand
    mine = link_body("gs1:pip", "https://acme.example/mine")
    reply = client.post(f"/products/{world.gtin}/links", json=mine, headers=auth(world.brand_key))
    assert reply.status_code == 201
    link_id = reply.json()["id"]
    missing = gtin13(PREFIX, "99999")  # my prefix, no product
    evil = link_body("gs1:pip", "https://evil.example/phish")
    for gtin in (world.gtin, missing):
        # Another brand cannot add or list links on my GTIN: the same 404 as for a missing GTIN.
        added = client.post(f"/products/{gtin}/links", json=evil, headers=auth(their_key))
        listed = client.get(f"/products/{gtin}/links", headers=auth(their_key))
        for reply in (added, listed):
            assert reply.status_code == 404, reply.text
            assert reply.json() == {"detail": f"no product with GTIN 0{gtin} among yours"}
    # Nor delete my link: 404 as for a link that does not exist; my link stays.
    assert client.delete(f"/links/{link_id}", headers=auth(their_key)).status_code == 404
    assert client.delete(f"/links/{2**62}", headers=auth(their_key)).status_code == 404
    assert link_id in [link["id"] for link in _links(client, world.brand_key, world.gtin)]
    # And I cannot touch theirs.
    reply = client.post(f"/products/{their_gtin}/links", json=mine, headers=auth(world.brand_key))
    assert reply.status_code == 404
    assert (
        client.post(f"/products/{their_gtin}/links", json=mine, headers=auth(their_key)).status_code
        == 201
    )


def test_only_a_brand_key_manages_links(served: Served, client: httpx.Client) -> None:  # noqa: F811
    world = served.world
    body = link_body("gs1:pip", "https://acme.example/x")
    url = f"/products/{world.gtin}/links"
    for key in (world.carrier_key, world.buyer_key):
        assert client.post(url, json=body, headers=auth(key)).status_code == 403
        assert client.get(url, headers=auth(key)).status_code == 403
        assert client.delete("/links/1", headers=auth(key)).status_code == 403
    # A consumer (no key) and a wrong key.
    assert client.post(url, json=body).status_code == 401
    assert client.get(url).status_code == 401
    assert client.delete("/links/1").status_code == 401
    assert client.post(url, json=body, headers=auth("ct_not-a-key")).status_code == 401


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("href", "javascript:alert(document.cookie)"),
        ("href", "data:text/html;base64,PHNjcmlwdD4="),
        ("href", "http://acme.example/plain-http"),
        ("href", "https://acme.example@evil.example/"),
        ("href", "/relative/path"),
        ("href", "https://acme.example/" + "a" * 1100),
        ("href", "https://acme.example/\r\nLocation: https://evil.example"),
        ("linkType", "gs1:myOwnType"),
        ("linkType", "https://evil.example/voc/pip"),
        ("title", ""),
        ("title", "x" * 201),
        ("title", "bell\x07"),
        ("hreflang", ["en_US"]),
        ("hreflang", "en"),
        ("hreflang", ["en"] * 11),
        ("type", "text html"),
        ("type", "text/html\r\nX: y"),
        ("serial", "x" * 21),
        ("lot", "bad lot"),
        ("extra", "field"),
    ],
)
def test_hostile_links_are_refused_and_nothing_is_stored(
    served: Served,  # noqa: F811
    client: httpx.Client,
    field: str,
    value: Any,
) -> None:
    world = served.world
    before = _links(client, world.brand_key, world.gtin)
    body = {**link_body("gs1:pip", "https://acme.example/ok"), field: value}
    reply = client.post(f"/products/{world.gtin}/links", json=body, headers=auth(world.brand_key))
    assert reply.status_code == 422, reply.text
    [problem] = reply.json()["detail"]
    assert problem["loc"][-1] == field or field in problem["loc"], problem
    assert _links(client, world.brand_key, world.gtin) == before


def test_a_link_is_for_a_lot_or_a_serial_not_both(served: Served, client: httpx.Client) -> None:  # noqa: F811
    world = served.world
    body = link_body("gs1:pip", "https://acme.example/both", lot="L1", serial="S2")
    reply = client.post(f"/products/{world.gtin}/links", json=body, headers=auth(world.brand_key))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "serial"]


def test_links_per_key_are_bounded_and_a_key_has_one_default(
    served: Served,  # noqa: F811
    client: httpx.Client,
) -> None:
    world = served.world
    url, key = f"/products/{world.gtin}/links", auth(world.brand_key)
    default = link_body("gs1:defaultLink", "https://acme.example/default", serial="S3")
    assert client.post(url, json=default, headers=key).status_code == 201
    again = client.post(url, json={**default, "href": "https://acme.example/d2"}, headers=key)
    assert again.status_code == 409 and "defaultLink" in again.json()["detail"]
    for n in range(MAX_LINKS_PER_KEY - 1):
        body = link_body("gs1:relatedImage", f"https://acme.example/img/{n}", serial="S3")
        assert client.post(url, json=body, headers=key).status_code == 201
    extra = link_body("gs1:relatedImage", "https://acme.example/img/x", serial="S3")
    full = client.post(url, json=extra, headers=key)
    assert full.status_code == 409 and str(MAX_LINKS_PER_KEY) in full.json()["detail"]
    # Another key (the GTIN level) is not full.
    assert client.post(url, json={**extra, "serial": None}, headers=key).status_code == 201
