"""The public resolver and QR codes: Digital Links in, HTML or JSON with proofs out."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from core.digital_link import build_link
from core.epcis.projection import projection_hash
from core.merkle import member_leaf_hash, process_proof
from store.db import session_factory, transaction
from store.models import Leaf
from tests.api.flows import PREFIX, PUBLIC_BASE_URL, Api, World, gtin13, ok
from tests.utils.holding_writer import HoldingWriter

# Every reserved character of GS1's CS82 set that a URI path must escape or may misread:
# '/', '%', '+', '?', '&', '=', '<', '>', '"', ':', ';', "'", '(', ')', '*', ',', '!'.
SPECIAL_SERIALS = [
    "A/B",
    "50%",
    "%41",
    "a+b",
    "x?y",
    "a&b=c",
    "<tag>",
    '"q"',
    "a:b;c",
    "it's(1)*2,!",
    "/",
    "./x",
]


@pytest.fixture
def catalogue(api: Api) -> tuple[str, str]:
    """A brand whose product has items with every awkward serial; returns (brand key, GTIN-13)."""
    assert api.chain is not None
    key = api.brand(api.chain.brand)
    gtin = gtin13(PREFIX, "55555")
    api.product(key, gtin, "Oat milk 1 l")
    api.commission(key, api.chain.brand, gtin, [*SPECIAL_SERIALS, "PLAIN1"])
    return key, gtin


def _path(link: str) -> str:
    return urlsplit(link).path


def test_json_history_carries_projection_hash_salt_leaf_proof_root(
    api: Api, catalogue: tuple[str, str]
) -> None:
    _, gtin = catalogue
    body = ok(api.client.get(f"/01/{gtin}/21/PLAIN1", headers={"Accept": "application/json"}))
    assert body["item"]["gtin"] == "0" + gtin
    assert body["item"]["link"] == f"{PUBLIC_BASE_URL}/01/0{gtin}/21/PLAIN1"
    assert body["product"]["name"] == "Oat milk 1 l"
    assert body["brand"]["companyPrefix"] == PREFIX
    assert body["authentic"]["status"] == "pending"
    [event] = body["history"]
    assert event["bizStep"] == "commissioning" and event["proven"]
    assert event["finality"] == "pending"
    # The projection hashes to the hash shown; its kind 2 leaf and proof lead to the root shown.
    assert event["projection"]["epcList"] == [body["item"]["epc"]]
    digest = projection_hash(event["projection"])
    assert "0x" + digest.hex() == event["projectionHash"]
    leaf = member_leaf_hash(event["eventKind"], digest, bytes.fromhex(event["salt"][2:]))
    assert "0x" + leaf.hex() == event["leaf"]
    proof = [bytes.fromhex(p[2:]) for p in event["proof"]]
    assert "0x" + process_proof(leaf, proof).hex() == event["root"]
    assert not {"event", "eventHash", "eventHashHex", "id"} & event.keys()
    deployment = api.chain.deployment  # type: ignore[union-attr]
    assert body["verify"]["contract"] == deployment.roots_anchor.address  # where new roots go
    assert body["verify"]["contracts"] == {
        "1": deployment.trace_anchor,
        "2": deployment.trace_anchor_v2,
    }
    # The commissioning's batch was signed under v2's domain: its root goes to v2.
    assert event["anchoring"]["contract"] == deployment.trace_anchor_v2
    assert body["authentic"]["verdict"] == "unregistered"  # no brand registered on chain here
    assert body["verify"]["function"].startswith("verifyMember(uint8 eventKind")


@pytest.mark.parametrize(
    "query, headers",
    [
        ({"format": "json"}, {"Accept": "text/html"}),
        ({}, {"Accept": "application/json"}),
        ({}, {"Accept": "text/html;q=0.5, application/json"}),
    ],
)
def test_json_when_asked(
    api: Api, catalogue: tuple[str, str], query: dict[str, str], headers: dict[str, str]
) -> None:
    _, gtin = catalogue
    response = api.client.get(f"/01/{gtin}/21/PLAIN1", params=query, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["item"]["serial"] == "PLAIN1"


def test_html_for_browsers(api: Api, catalogue: tuple[str, str]) -> None:
    _, gtin = catalogue
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = api.client.get(f"/01/{gtin}/21/PLAIN1", headers={"Accept": browser})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Oat milk 1 l" in page
    assert "Acme Foods" in page
    assert "Registered by the brand" in page  # the commissioning step, in plain words
    assert 'class="badge pending"' in page
    assert api.chain is not None and api.chain.deployment.roots_anchor.address in page


def test_html_escapes_serials(api: Api, catalogue: tuple[str, str]) -> None:
    _, gtin = catalogue
    path = _path(build_link(PUBLIC_BASE_URL, gtin, "<tag>"))
    page = api.client.get(path, headers={"Accept": "text/html"}).text
    assert "&lt;tag&gt;" in page
    assert "<tag>" not in page


def test_unknown_item_is_404_json_and_html(api: Api, catalogue: tuple[str, str]) -> None:
    _, gtin = catalogue
    as_json = api.client.get(f"/01/{gtin}/21/NOPE", headers={"Accept": "application/json"})
    assert as_json.status_code == 404
    assert "NOPE" in as_json.json()["detail"]
    as_html = api.client.get(f"/01/{gtin}/21/NOPE", headers={"Accept": "text/html"})
    assert as_html.status_code == 404
    assert as_html.headers["content-type"].startswith("text/html")
    assert "This product number is not registered with chaintrace" in as_html.text
    # A well-formed link to a GTIN nobody registered is just as unknown.
    other = gtin13("0799999", "1")
    assert api.client.get(f"/01/{other}/21/A1", params={"format": "json"}).status_code == 404


def test_malformed_link_is_400_with_the_reason(api: Api) -> None:
    response = api.client.get("/01/4012345000008/21/A1", params={"format": "json"})
    assert response.status_code == 400
    assert "check digit" in response.json()["detail"]
    page = api.client.get("/01/4012345000008/21/A1", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "check digit" in page.text


@pytest.mark.parametrize("serial", SPECIAL_SERIALS)
def test_reserved_characters_round_trip(api: Api, catalogue: tuple[str, str], serial: str) -> None:
    _, gtin = catalogue
    link = build_link(PUBLIC_BASE_URL, gtin, serial)
    body = ok(api.client.get(_path(link), params={"format": "json"}))
    # Decoded exactly once: "%41" stays "%41" (not "A"), "A/B" stays one serial.
    assert body["item"]["serial"] == serial
    assert body["item"]["link"] == link
    assert body["history"][0]["projection"]["epcList"] == [body["item"]["epc"]]


def test_gtin13_and_gtin14_forms_resolve_to_one_item(api: Api, catalogue: tuple[str, str]) -> None:
    _, gtin = catalogue
    short = ok(api.client.get(f"/01/{gtin}/21/PLAIN1", params={"format": "json"}))
    long = ok(api.client.get(f"/01/0{gtin}/21/PLAIN1", params={"format": "json"}))
    assert short["item"] == long["item"]
    assert short["history"] == long["history"]


def _decode_qr(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    return str(barcode.text)


@pytest.mark.parametrize("serial", ["PLAIN1", "A/B", "50%", "a+b", "x?y", "a&b=c"])
def test_qr_png_decodes_to_exactly_the_link(
    api: Api, catalogue: tuple[str, str], serial: str
) -> None:
    _, gtin = catalogue
    link = build_link(PUBLIC_BASE_URL, gtin, serial)
    response = api.client.get("/qr" + _path(link))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert _decode_qr(response.content) == link
    # And the link it holds resolves to the same item.
    body = ok(api.client.get(_path(_decode_qr(response.content)), params={"format": "json"}))
    assert body["item"]["serial"] == serial


def test_qr_for_unknown_item_is_404(api: Api, catalogue: tuple[str, str]) -> None:
    _, gtin = catalogue
    response = api.client.get(f"/qr/01/{gtin}/21/NOPE")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no item")


def test_shipment_events_appear_in_the_history(world: World) -> None:
    api = world.api
    url = f"/shipments/{world.shipment_id}/events"
    headers = {"Authorization": f"Bearer {world.carrier_key}"}
    ok(
        api.client.post(
            url, json={"bizStep": "shipping", "gps": {"lat": 53.55, "lon": 9.99}}, headers=headers
        ),
        201,
    )
    body = ok(api.client.get(f"/01/{world.gtin}/21/A1", params={"format": "json"}))
    steps = [e["bizStep"] for e in body["history"]]
    # The platform packed the items into the shipment's container as they shipped.
    assert steps == ["commissioning", "packing", "shipping"]
    shipping = body["history"][2]
    # The carrier's exact position is not public: its projection keeps no GPS extension.
    assert shipping["geo"] is None and "53.55" not in json.dumps(shipping)
    assert shipping["projection"]["epcList"] == [body["item"]["epc"]]
    assert "0x" + projection_hash(shipping["projection"]).hex() == shipping["projectionHash"]
    assert shipping["finality"] == "pending" and shipping["proof"] is None


def test_a_scan_answers_while_a_writer_holds_the_database(
    api: Api, catalogue: tuple[str, str]
) -> None:
    # GETs read in a read-only transaction: on SQLite a scan neither waits for the gateway's or
    # the anchoring worker's write transaction nor holds them up (an IMMEDIATE one would wait
    # out the busy timeout and fail); on PostgreSQL it is refused any write.
    _, gtin = catalogue
    before = ok(api.client.get(f"/01/{gtin}/21/PLAIN1", params={"format": "json"}))
    with HoldingWriter(session_factory(api.engine)):
        during = api.client.get(f"/01/{gtin}/21/PLAIN1", params={"format": "json"})
        health = api.client.get("/healthz")
    assert during.status_code == 200 and during.json() == before
    assert health.status_code == 200 and health.json()["database"] == "ok"


def test_a_leaf_its_batch_tree_does_not_hold_shows_no_proof_not_an_error(
    api: Api, catalogue: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, gtin = catalogue
    url = f"/01/{gtin}/21/PLAIN1"
    [event] = ok(api.client.get(url, params={"format": "json"}))["history"]
    assert event["proof"] is not None
    with transaction(session_factory(api.engine)) as session:  # a corrupted store
        leaf = session.scalars(
            select(Leaf).where(Leaf.leaf_hash == bytes.fromhex(event["leaf"][2:]))
        ).one()
        leaf.leaf_hash = bytes(32)
    body = ok(api.client.get(url, params={"format": "json"}))
    [shown] = body["history"]
    assert shown["proof"] is None and shown["projectionHash"] == event["projectionHash"]
    assert "no proof in its batch's tree" in caplog.text
