"""Brand content over HTTP: a brand puts, lists, reads and deletes its products' content per
language; nobody else can (the same 404 for another brand's GTIN as for a missing one); hostile
bodies are refused and nothing is stored; the item page shows the content in the viewer's
language, else the default."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from PIL import Image

from api.content_view import content_view
from store.db import session_factory
from store.models import Item, Product
from tests.api.flows import PREFIX, auth, gtin13
from tests.api.served_support import Served, served  # noqa: F401 (served: a pytest fixture)
from tests.api.test_content_image import SECRET, jpeg_with_gps

OTHER_PREFIX = "0712345"


def png(width: int = 32, height: int = 16) -> dict[str, str]:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "PNG")
    return {"mediaType": "image/png", "data": base64.b64encode(out.getvalue()).decode()}


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra}


@pytest.fixture(scope="module")
def client(served: Served) -> TestClient:  # noqa: F811
    return served.world.api.client


@pytest.fixture(scope="module")
def other_brand(served: Served) -> tuple[str, str]:  # noqa: F811
    """Another brand with a product of its own: (key, GTIN-13)."""
    api = served.world.api
    key = api.brand(Account.create(), OTHER_PREFIX, "Other Brand")
    gtin = gtin13(OTHER_PREFIX, "00042")
    api.product(key, gtin, "Their product")
    return key, gtin


def _contents(client: TestClient, key: str, gtin: str) -> list[dict[str, Any]]:
    reply = client.get(f"/products/{gtin}/content", headers=auth(key))
    assert reply.status_code == 200, reply.text
    return list(reply.json())


def _item_json(client: TestClient, gtin: str, serial: str = "A1") -> dict[str, Any]:
    reply = client.get(f"/01/{gtin}/21/{serial}", params={"format": "json"})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_a_brand_puts_lists_reads_and_deletes_its_content(
    served: Served,  # noqa: F811
    client: TestClient,
) -> None:
    api = served.world.api
    key = served.world.brand_key
    gtin = gtin13(PREFIX, "77001")
    api.product(key, gtin, "Green tea 20 bags")
    url = f"/products/{gtin}/content"
    english = body(
        "Green tea",
        description="Steamed sencha.\nBrew at 80 °C for 2 minutes.",
        contact={"url": "https://acme.example/care", "email": "care@acme.example"},
    )
    first = client.put(f"{url}/EN", json=english, headers=auth(key))
    assert first.status_code == 200, first.text
    created = first.json()
    assert created["lang"] == "en" and created["isDefault"] is True  # the first is the default
    assert created["gtin"] == "0" + gtin and created["image"] is None
    assert created["contact"] == {
        "url": "https://acme.example/care",
        "email": "care@acme.example",
        "phone": None,
    }
    chinese = body("绿茶", description="蒸青煎茶", image=png(), contact={"phone": "+8610123456"})
    reply = client.put(f"{url}/zh-hans", json=chinese, headers=auth(key))
    assert reply.status_code == 200, reply.text
    zh = reply.json()
    assert zh["lang"] == "zh-Hans" and zh["isDefault"] is False
    image = zh["image"]
    assert (image["mediaType"], image["width"], image["height"]) == ("image/webp", 32, 16)
    assert image["dataUri"].startswith("data:image/webp;base64,")
    assert len(base64.b64decode(image["dataUri"].split(",", 1)[1])) == image["size"]
    assert [c["lang"] for c in _contents(client, key, gtin)] == ["en", "zh-Hans"]
    assert client.get(f"{url}/ZH-Hans", headers=auth(key)).json() == zh
    # Replacing: a PUT says everything of its language (the image is gone when not sent).
    again = client.put(f"{url}/zh-Hans", json={**chinese, "image": None}, headers=auth(key))
    assert again.status_code == 200 and again.json()["image"] is None
    # Another language made the default; then deleting it hands the default to the oldest.
    made = client.put(f"{url}/en-GB", json={**english, "isDefault": True}, headers=auth(key))
    assert made.json()["isDefault"] is True
    defaults = {c["lang"]: c["isDefault"] for c in _contents(client, key, gtin)}
    assert defaults == {"en": False, "en-GB": True, "zh-Hans": False}
    assert client.delete(f"{url}/en-GB", headers=auth(key)).status_code == 204
    defaults = {c["lang"]: c["isDefault"] for c in _contents(client, key, gtin)}
    assert defaults == {"en": True, "zh-Hans": False}
    assert client.delete(f"{url}/en-GB", headers=auth(key)).status_code == 404
    assert client.get(f"{url}/en-GB", headers=auth(key)).status_code == 404


def test_the_item_page_shows_the_viewers_language_else_the_default(
    served: Served,  # noqa: F811
    client: TestClient,
) -> None:
    world = served.world
    key, url = world.brand_key, f"/products/{world.gtin}/content"
    assert _item_json(client, world.gtin)["content"] is None  # no content: the product's name
    script = '<script>alert(1)</script> & "quotes"'
    english = body(
        "Cold brew",
        description=script,
        image={
            "mediaType": "image/jpeg",
            "data": base64.b64encode(jpeg_with_gps()).decode(),
        },
        contact={"url": "https://acme.example/", "phone": "+441234567890"},
    )
    assert client.put(f"{url}/en", json=english, headers=auth(key)).status_code == 200
    chinese = body("冷萃咖啡", description="低温萃取十二小时。")
    assert client.put(f"{url}/zh-Hans", json=chinese, headers=auth(key)).status_code == 200
    content = _item_json(client, world.gtin)["content"]
    assert content["lang"] == "en" and content["name"] == "Cold brew"
    assert content["description"] == script  # plain text, kept as written (the page escapes it)
    assert content["contact"] == {
        "url": "https://acme.example/",
        "email": None,
        "phone": "+441234567890",
    }
    assert (content["imageWidth"], content["imageHeight"]) == (200, 300)
    shown = base64.b64decode(content["image"].removeprefix("data:image/webp;base64,"))
    assert SECRET.encode() not in shown and b"GPS" not in shown and b"Exif" not in shown
    page = client.get(f"/01/{world.gtin}/21/A1", headers={"Accept": "text/html"})
    assert page.status_code == 200 and script not in page.text
    assert "data:" in page.headers["content-security-policy"].split("img-src", 1)[1].split(";")[0]
    lot = client.get(f"/01/{world.gtin}", params={"format": "json"})
    assert lot.status_code == 200 and lot.json()["content"]["lang"] == "en"
    with session_factory(world.api.engine)() as session:
        product = session.query(Product).filter_by(gtin="0" + world.gtin).one()
        item = session.query(Item).filter_by(product_id=product.id, serial="A1").one()
        assert item.product is product
        for languages, lang in (
            (["zh-CN", "en"], "zh-Hans"),
            (["zh-TW"], "en"),
            (["fr", "zh"], "zh-Hans"),
            ([], "en"),
        ):
            chosen = content_view(session, product, languages)
            assert chosen is not None and chosen["lang"] == lang, languages
        zh = content_view(session, product, ["zh"])
        assert zh == {
            "lang": "zh-Hans",
            "name": "冷萃咖啡",
            "description": "低温萃取十二小时。",
            "image": None,
            "imageWidth": None,
            "imageHeight": None,
            "contact": None,
        }
    for lang in ("en", "zh-Hans"):
        assert client.delete(f"{url}/{lang}", headers=auth(key)).status_code == 204
    assert _item_json(client, world.gtin)["content"] is None


def test_another_brands_gtin_answers_like_a_missing_one(
    served: Served,  # noqa: F811
    client: TestClient,
    other_brand: tuple[str, str],
) -> None:
    world = served.world
    their_key, their_gtin = other_brand
    mine = f"/products/{world.gtin}/content"
    assert client.put(f"{mine}/de", json=body("Kaltbrühkaffee"), headers=auth(world.brand_key))
    before = _contents(client, world.brand_key, world.gtin)
    missing = gtin13(PREFIX, "99999")  # my prefix, no product
    for gtin in (world.gtin, missing):
        url = f"/products/{gtin}/content"
        for reply in (
            client.put(f"{url}/de", json=body("Fake"), headers=auth(their_key)),
            client.get(url, headers=auth(their_key)),
            client.get(f"{url}/de", headers=auth(their_key)),
            client.delete(f"{url}/de", headers=auth(their_key)),
        ):
            assert reply.status_code == 404, reply.text
            assert reply.json() == {"detail": f"no product with GTIN 0{gtin} among yours"}
    assert _contents(client, world.brand_key, world.gtin) == before
    # Nor can I write theirs; they can.
    theirs = f"/products/{their_gtin}/content/en"
    assert client.put(theirs, json=body("Mine?"), headers=auth(world.brand_key)).status_code == 404
    assert client.put(theirs, json=body("Theirs"), headers=auth(their_key)).status_code == 200
    assert client.delete(f"{mine}/de", headers=auth(world.brand_key)).status_code == 204


def test_only_a_brand_key_manages_content(served: Served, client: TestClient) -> None:  # noqa: F811
    world = served.world
    url = f"/products/{world.gtin}/content"
    for key in (world.carrier_key, world.buyer_key):
        assert client.put(f"{url}/en", json=body("x"), headers=auth(key)).status_code == 403
        assert client.get(url, headers=auth(key)).status_code == 403
        assert client.delete(f"{url}/en", headers=auth(key)).status_code == 403
    assert client.put(f"{url}/en", json=body("x")).status_code == 401
    assert client.get(url).status_code == 401
    assert client.put(f"{url}/en", json=body("x"), headers=auth("ct_not-a-key")).status_code == 401
    assert _contents(client, world.brand_key, world.gtin) == []


def _image(data: bytes, media_type: str = "image/png") -> dict[str, str]:
    return {"mediaType": media_type, "data": base64.b64encode(data).decode()}


@pytest.mark.parametrize(
    ("lang", "field", "value", "where"),
    [
        ("en_US", None, None, "lang"),
        ("xx", None, None, "lang"),
        ("en-GB-oed", None, None, "lang"),
        ("en", "name", "", "name"),
        ("en", "name", "x" * 201, "name"),
        ("en", "name", "bell\x07", "name"),
        ("en", "description", "x" * 2001, "description"),
        ("en", "description", "right-to-left \u202e override", "description"),
        ("en", "description", "nul \x00", None),  # the body guard's own 422
        ("en", "contact", {"url": "javascript:alert(1)"}, "url"),
        ("en", "contact", {"url": "http://acme.example/"}, "url"),
        ("en", "contact", {"url": "https://acme.example@evil.example/"}, "url"),
        ("en", "contact", {"url": "https://acme.example/" + "a" * 500}, "url"),
        ("en", "contact", {"email": "not an address"}, "email"),
        # A mailto: link's query would add hidden recipients or a body.
        ("en", "contact", {"email": "care?bcc=harvest@evil.example"}, "email"),
        ("en", "contact", {"email": "care&cc=x@evil.example"}, "email"),
        ("en", "contact", {"email": "a@" + "b" * 250 + ".example"}, "email"),
        ("en", "contact", {"phone": "0123 456"}, "phone"),
        ("en", "contact", {"phone": "+1" + "2" * 20}, "phone"),
        ("en", "contact", {"fax": "+4412345678"}, "fax"),
        ("en", "image", _image(b"GIF89a...", "image/gif"), "mediaType"),
        ("en", "image", {"mediaType": "image/png", "data": "not base64!"}, "data"),
        ("en", "image", _image(b"<html><script>alert(1)</script>"), "data"),
        ("en", "image", _image(b"\x89PNG\r\n\x1a\n" + b"\x00" * (300 * 1024)), "data"),
        ("en", "extra", "field", "extra"),
    ],
)
def test_hostile_content_is_refused_and_nothing_is_stored(
    served: Served,  # noqa: F811
    client: TestClient,
    lang: str,
    field: str | None,
    value: Any,
    where: str | None,
) -> None:
    world = served.world
    before = _contents(client, world.brand_key, world.gtin)
    sent = {**body("Cold brew"), **({field: value} if field else {})}
    reply = client.put(
        f"/products/{world.gtin}/content/{lang}", json=sent, headers=auth(world.brand_key)
    )
    assert reply.status_code == 422, reply.text
    problem = reply.json()["detail"][0]
    assert where is None or where in problem["loc"], problem
    assert _contents(client, world.brand_key, world.gtin) == before


def test_a_decompression_bomb_and_a_truncated_image_are_refused(
    served: Served,  # noqa: F811
    client: TestClient,
) -> None:
    world = served.world
    before = _contents(client, world.brand_key, world.gtin)
    bomb = io.BytesIO()
    Image.new("1", (5000, 5000)).save(bomb, "PNG")
    whole = io.BytesIO()
    Image.linear_gradient("L").save(whole, "JPEG")
    for upload, media_type, reason in (
        (bomb.getvalue(), "image/png", "pixels"),
        (whole.getvalue()[:300], "image/jpeg", "cannot be decoded"),
    ):
        reply = client.put(
            f"/products/{world.gtin}/content/en",
            json=body("Cold brew", image=_image(upload, media_type)),
            headers=auth(world.brand_key),
        )
        assert reply.status_code == 422, reply.text
        [problem] = reply.json()["detail"]
        assert problem["loc"] == ["body", "image", "data"] and reason in problem["msg"]
    assert _contents(client, world.brand_key, world.gtin) == before
