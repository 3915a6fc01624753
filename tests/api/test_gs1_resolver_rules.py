"""The GS1-Conformant resolver standard's rules, one test each, over real HTTP against the
served API (tests/api/served_support.py). docs/resolver.md says what each rule means here."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from core.digital_link import build_link
from tests.api.flows import (
    OTHER_PREFIX,
    PREFIX,
    PUBLIC_BASE_URL,
    World,
    auth,
    gtin13,
    ok,
    sign_typed,
)
from tests.api.served_support import Served
from tests.api.served_support import served as served  # the fixture

REPO = Path(__file__).resolve().parents[2]
LOT = "L-7/B"  # '/' is escaped in a path: %2F
LOT_SERIALS = ("LOT7-A", "LOT7-B", "LOT7-C")
EXPIRY = "2027-05-31"
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def lot_world(served: Served) -> World:
    """The served cast, plus items of lot LOT (expiry EXPIRY) under the cast's GTIN."""
    world = served.world
    api, chain = world.api, world.api.chain
    assert chain is not None
    body = {"serials": list(LOT_SERIALS), "lot": LOT, "expiry": EXPIRY}
    draft = ok(
        api.client.post(f"/products/{world.gtin}/items", json=body, headers=auth(world.brand_key)),
        201,
    )
    signature = sign_typed(chain.brand, draft["typedData"])
    ok(
        api.client.post(
            f"/commissionings/{draft['id']}/signature",
            json={"signature": signature},
            headers=auth(world.brand_key),
        )
    )
    return world


@pytest.fixture(scope="module")
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=60) as client:
        yield client


def _path(gtin: str, serial: str) -> str:
    return build_link("", gtin, serial)


def _lot_path(gtin: str, lot: str = LOT) -> str:
    return f"/01/0{gtin}/10/{lot.replace('/', '%2F')}"


# SHALL support HTTP GET, HEAD and OPTIONS requests.
def test_head_answers_as_get_does_without_a_body(http: httpx.Client, lot_world: World) -> None:
    path = _path(lot_world.gtin, "A1")
    get = http.get(path, headers=JSON)
    head = http.head(path, headers=JSON)
    assert (get.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    for name in ("content-type", "etag", "link", "cache-control", "content-length"):
        assert head.headers[name] == get.headers[name], name


def test_options_answers_204_with_allow_and_a_cors_preflight(
    http: httpx.Client, lot_world: World
) -> None:
    preflight = {"Origin": "https://scanner.example", "Access-Control-Request-Method": "GET"}
    for path in (_path(lot_world.gtin, "A1"), f"/01/{lot_world.gtin}", "/.well-known/gs1resolver"):
        answer = http.options(path, headers=preflight)
        assert answer.status_code == 204, path
        assert answer.content == b"" and "content-length" not in answer.headers
        assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "GET" in answer.headers["access-control-allow-methods"]
    # The link itself is wrong whatever the method: 400, still readable cross-origin.
    answer = http.options("/01/4012345000008", headers=preflight)
    assert answer.status_code == 400
    assert answer.headers["access-control-allow-origin"] == "*"


# SHALL support CORS; only the resolver's paths do (the rest of the API is no resolver).
def test_cors_on_resolver_paths_only(http: httpx.Client, lot_world: World) -> None:
    origin = {"Origin": "https://scanner.example"}
    for path in (
        _path(lot_world.gtin, "A1"),
        _path(lot_world.gtin, "NOPE"),  # errors too
        "/01/4012345000008",
        "/.well-known/gs1resolver",
    ):
        answer = http.get(path, headers=origin)
        assert answer.headers["access-control-allow-origin"] == "*", path
        exposed = {
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        }
        assert {"link", "etag", "location"} <= exposed
    for path in (
        "/healthz",
        f"/products/{lot_world.gtin}",
        "/openapi.json",
        "/qr" + _path(lot_world.gtin, "A1"),
    ):
        answer = http.get(path, headers=origin)
        assert "access-control-allow-origin" not in answer.headers, path


# SHALL respond 400 to a request URI that is not a syntactically valid GS1 Digital Link.
@pytest.mark.parametrize(
    "path, reason",
    [
        ("/01/4012345000008/21/A1", "check digit"),
        ("/01/4012345000008", "check digit"),
        ("/01/40123450000AB/21/A1", "only the digits"),
        ("/01/40123450000/21/A1", "8, 12, 13 or 14 digits"),
        ("/01/04012345000009/21/A1/10/L1", "order 22, 10, 21"),
        ("/01/04012345000009/10/L1/10/L2", "twice"),
        ("/01/04012345000009/17/270531", "not a key qualifier"),
        ("/01/04012345000009/21/A%20B", "CS82"),
        ("/01/04012345000009/21/" + "A" * 21, "1-20 characters"),
        ("/01/04012345000009/10/L%7E1", "CS82"),
        ("/01/04012345000009/21", "every AI needs a value"),
    ],
)
def test_an_invalid_digital_link_is_400_with_the_reason(
    http: httpx.Client, path: str, reason: str
) -> None:
    as_json = http.get(path, headers=JSON)
    assert as_json.status_code == 400, (path, as_json.status_code)
    assert reason in as_json.json()["detail"]
    page = http.get(path, headers=HTML)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert reason in page.text.replace("&#39;", "'")


# SHOULD tolerate a trailing slash.
def test_a_trailing_slash_is_tolerated(http: httpx.Client, lot_world: World) -> None:
    for path in (_path(lot_world.gtin, "A1"), f"/01/{lot_world.gtin}", _lot_path(lot_world.gtin)):
        plain, slashed = http.get(path, headers=JSON), http.get(path + "/", headers=JSON)
        assert plain.status_code == 200 and slashed.status_code == 200, path
        assert plain.json() == slashed.json()


# A GTIN on its own names the product: its page and JSON, never an item's.
def test_a_gtin_only_link_answers_the_product(http: httpx.Client, lot_world: World) -> None:
    body = ok(http.get(f"/01/{lot_world.gtin}", headers=JSON))
    assert body["product"] == {"gtin": "0" + lot_world.gtin, "name": "Cold brew 250 ml"}
    assert body["brand"]["companyPrefix"] == PREFIX
    assert body["lot"] is None
    assert body["link"] == f"{PUBLIC_BASE_URL}/01/0{lot_world.gtin}"
    page = http.get(f"/01/{lot_world.gtin}", headers=HTML)
    assert page.status_code == 200 and "Cold brew 250 ml" in page.text
    _no_serials(page.text + json.dumps(body), lot_world)


# A lot-level link names the lot: product, lot and expiry; never its serials, nor how many.
def test_a_lot_link_answers_the_lot_without_its_serials(
    http: httpx.Client, lot_world: World
) -> None:
    body = ok(http.get(_lot_path(lot_world.gtin), headers=JSON))
    assert body["lot"] == {"lot": LOT, "expiry": EXPIRY}
    assert body["product"]["gtin"] == "0" + lot_world.gtin
    assert set(body) == {"link", "product", "brand", "lot", "content"}
    page = http.get(_lot_path(lot_world.gtin), headers=HTML)
    assert page.status_code == 200 and EXPIRY in page.text and "L-7/B" in page.text
    _no_serials(page.text + json.dumps(body), lot_world)


def _no_serials(text: str, world: World) -> None:
    for serial in (*LOT_SERIALS, *world.serials, "S1", "S2", "S3"):
        assert serial not in text, serial


# An unknown lot of a registered brand's product is not recognised; an unknown GTIN of no
# registered brand stays neutral: a valid link that names nothing known is a plain 404.
def test_unknown_product_or_lot_is_404_with_its_verdict(
    http: httpx.Client, lot_world: World
) -> None:
    lot = http.get(_lot_path(lot_world.gtin, "NOLOT"), headers=JSON)
    assert lot.status_code == 404 and "NOLOT" in lot.json()["detail"]
    other = http.get(f"/01/{gtin13(OTHER_PREFIX, '1')}", headers=JSON)
    assert other.status_code == 404
    assert other.json()["authentic"]["verdict"] == "unregistered"
    page = http.get(f"/01/{gtin13(OTHER_PREFIX, '1')}", headers=HTML)
    assert page.status_code == 404 and "not registered with chaintrace" in page.text


def _toolkit_compress(uris: list[str]) -> list[str]:
    """The links compressed by GS1's toolkit (the npm digital-link.js, which bundles the
    GS1DigitalLinkCompressionPrototype), optimisations on as its compressWebUri has them."""
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "digital-link.js").is_dir():
        pytest.skip("node or the digital-link.js package is not installed (make deps)")
    script = (
        "const { Utils } = require('digital-link.js');"
        "console.log(JSON.stringify(JSON.parse(process.argv[1]).map(Utils.compressWebUri)))"
    )
    done = subprocess.run(
        [node, "-e", script, json.dumps(uris)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    result: list[str] = json.loads(done.stdout)
    return result


# SHALL decompress a compressed URI, and expose the uncompressed URI in the Link header with
# rel owl:sameAs.
def test_a_compressed_link_is_answered_as_the_uncompressed_one(
    http: httpx.Client, lot_world: World
) -> None:
    gtin14 = "0" + lot_world.gtin
    base = PUBLIC_BASE_URL
    uncompressed = [
        f"{base}/01/{gtin14}/21/A1",
        f"{base}/01/{gtin14}/10/L-7%2FB/21/LOT7-B",
        f"{base}/01/{gtin14}/10/L-7%2FB",
        f"{base}/01/{gtin14}",
    ]
    compressed = _toolkit_compress(uncompressed)
    for long, short in zip(uncompressed, compressed, strict=True):
        path = "/" + short.removeprefix(base + "/")
        assert "/" not in path[1:], short
        answer = http.get(path, headers=JSON)
        assert answer.status_code == 200, (long, short)
        assert answer.json() == http.get(long.removeprefix(base), headers=JSON).json()
        assert answer.headers["link"] == f'<{long}>; rel="owl:sameAs"'
        assert answer.headers["access-control-allow-origin"] == "*"
        assert http.get(path + "/", headers=JSON).status_code == 200


# The partly compressed form: the primary key as it is, the rest compressed in one segment.
def test_a_partly_compressed_link_is_answered_as_the_uncompressed_one(
    http: httpx.Client, lot_world: World
) -> None:
    gtin14 = "0" + lot_world.gtin
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "digital-link.js").is_dir():
        pytest.skip("node or the digital-link.js package is not installed (make deps)")
    script = (
        "const T = require('digital-link.js/lib/GS1DigitalLinkCompressionPrototype/"
        "GS1DigitalLinkToolkit'); const t = new T();"
        "console.log(t.gs1ElementStringsToCompressedGS1DigitalLink("
        "process.argv[1], false, process.argv[2], true, true))"
    )
    elements = f"(01){gtin14}(10){LOT}(21)LOT7-C"
    done = subprocess.run(
        [node, "-e", script, elements, PUBLIC_BASE_URL],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    path = done.stdout.strip().removeprefix(PUBLIC_BASE_URL)
    assert path.startswith(f"/01/{gtin14}/") and path.count("/") == 3, path
    long = f"/01/{gtin14}/10/L-7%2FB/21/LOT7-C"
    answer = http.get(path, headers=JSON)
    assert answer.status_code == 200
    assert answer.json() == http.get(long, headers=JSON).json()
    assert answer.headers["link"] == f'<{PUBLIC_BASE_URL}{long}>; rel="owl:sameAs"'
    broken = http.get(path[:-3] + "~~~", headers=JSON)
    assert broken.status_code == 400


# A compressed link that names no known item is a 404 with its verdict, like an uncompressed one;
# a path segment that decompresses to no GTIN link keeps its own answer (it is no resolver path).
def test_a_segment_that_is_no_compressed_link_keeps_its_answer(
    http: httpx.Client, lot_world: World
) -> None:
    [unknown] = _toolkit_compress([f"{PUBLIC_BASE_URL}/01/0{lot_world.gtin}/21/NOPE9"])
    answer = http.get("/" + unknown.rsplit("/", 1)[1], headers=JSON)
    assert answer.status_code == 404 and "NOPE9" in answer.json()["detail"]
    assert http.get("/healthz").status_code == 200
    assert http.get("/AAAA").status_code == 404  # AI 00 (an SSCC): not this resolver's key
    for path in ("/healthz", "/AAAA", "/batches"):
        assert "access-control-allow-origin" not in http.get(path).headers
    assert http.put("/healthz").status_code == 405
    assert http.get("/brands").status_code == 405  # POST only: a one-segment GET is no link


# The description file schema of the GS1-Conformant resolver standard (1.2.0), as published
# (ref.gs1.org/standards/resolver/description-file-schema): the properties this resolver sends.
DESCRIPTION_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "resolverRoot": {"type": "string", "format": "uri"},
        "supportedPrimaryKeys": {
            "type": "array",
            "items": {
                "type": "string",
                "enum": [
                    *("all", "01", "8006", "8013", "8010", "410", "411", "412", "413"),
                    *("414", "415", "417", "8017", "8018", "255", "00", "253", "401"),
                    *("402", "8003", "8004"),
                ],
            },
        },
        "name": {"type": "string"},
        "supportedLinkType": {
            "type": "array",
            "items": {
                "properties": {
                    "namespace": {"type": "string", "format": "uri"},
                    "prefix": {"type": "string", "pattern": "^[a-zA-Z_][A-Za-z0-9_-]*?:$"},
                }
            },
        },
        "linkTypeDefaultCanBeLinkset": {"type": "boolean"},
        "jsonLdContextLocation": {"type": "string", "format": "uri"},
    },
    "required": ["resolverRoot", "supportedPrimaryKeys"],
}


# SHALL describe itself at /.well-known/gs1resolver (the standard's description file schema).
def test_the_well_known_file_describes_the_resolver(http: httpx.Client) -> None:
    answer = http.get("/.well-known/gs1resolver")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    jsonschema_rs.validator_for(DESCRIPTION_SCHEMA, validate_formats=True).validate(body)
    assert body["resolverRoot"] == PUBLIC_BASE_URL
    assert body["supportedPrimaryKeys"] == ["01"]
    assert body["linkTypeDefaultCanBeLinkset"] is False
    assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in body["supportedLinkType"]
    assert isinstance(body["name"], str) and body["name"]
    assert body["jsonLdContextLocation"].startswith("https://ref.gs1.org/")


# Every resolver answer: Cache-Control no-cache; a 200 carries a strong ETag of its bytes.
def test_every_answer_says_no_cache_and_a_200_has_a_strong_etag(
    http: httpx.Client, lot_world: World
) -> None:
    for path, status in (
        (_path(lot_world.gtin, "A1"), 200),
        (f"/01/{lot_world.gtin}", 200),
        ("/.well-known/gs1resolver", 200),
        (_path(lot_world.gtin, "NOPE"), 404),
        ("/01/4012345000008", 400),
    ):
        answer = http.get(path, headers={**JSON, "Accept-Encoding": "identity"})
        assert answer.status_code == status, path
        assert answer.headers["cache-control"] == "no-cache", path
        if status == 200:
            etag = answer.headers["etag"]
            assert etag.startswith('"') and not etag.startswith("W/"), path
            again = http.get(path, headers={**JSON, "Accept-Encoding": "identity"})
            assert again.headers["etag"] == etag
    html = http.get(_path(lot_world.gtin, "A1"), headers={**HTML, "Accept-Encoding": "identity"})
    json_ = http.get(_path(lot_world.gtin, "A1"), headers={**JSON, "Accept-Encoding": "identity"})
    assert html.headers["etag"] != json_.headers["etag"]


# If-None-Match naming the ETag: 304 without a body.
def test_if_none_match_gets_304(http: httpx.Client, lot_world: World) -> None:
    path = _path(lot_world.gtin, "A1")
    first = http.get(path, headers=JSON)
    etag = first.headers["etag"]
    again = http.get(path, headers={**JSON, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "no-cache"
    assert http.get(path, headers={**JSON, "If-None-Match": f'W/{etag}, "x"'}).status_code == 304
    assert http.get(path, headers={**JSON, "If-None-Match": '"other"'}).status_code == 200


# A 304 is still a scan: it goes through the route and its rate limit.
def test_a_304_still_counts_against_the_rate_limit(served: Served, lot_world: World) -> None:
    settings = ApiSettings(
        database_url="sqlite://",  # unused: the served store's engine is passed in
        public_base_url=PUBLIC_BASE_URL,
        rate_limit_resolver="3/minute",
    )
    app = create_app(settings, engine=lot_world.api.engine)
    with TestClient(app) as client:
        path = f"/01/{lot_world.gtin}"
        etag = client.get(path, headers=JSON).headers["etag"]
        for _ in range(2):
            assert client.get(path, headers={**JSON, "If-None-Match": etag}).status_code == 304
        refused = client.get(path, headers={**JSON, "If-None-Match": etag})
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == "*"


# Answers are gzipped for clients that accept it (and only for them).
def test_answers_are_gzipped_for_clients_that_accept_it(
    http: httpx.Client, lot_world: World
) -> None:
    path = _path(lot_world.gtin, "A1")
    for accept in (JSON, HTML):
        plain = http.get(path, headers={**accept, "Accept-Encoding": "identity"})
        packed = http.get(path, headers={**accept, "Accept-Encoding": "gzip"})
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in packed.headers["vary"].lower()
        assert gzip.decompress(_raw(http, path, {**accept, "Accept-Encoding": "gzip"})) == (
            plain.content
        )


def _raw(http: httpx.Client, path: str, headers: dict[str, Any]) -> bytes:
    """The bytes on the wire (httpx would decode them)."""
    with http.stream("GET", path, headers=headers) as answer:
        return b"".join(answer.iter_raw())
