"""HTTP policy: security headers per route class, who may read /metrics and the principal
directory, 404 (not 403) for what a caller may not see, ids beyond 64 bits, 422s that echo
nothing large."""

from __future__ import annotations

import time
from typing import Any

import pytest

from api.page_times import LOCAL_TIME_SCRIPT_HASH
from api.routes.health import CHAIN_STATUS_TTL_S
from api.security_headers import POLICIES, RouteClass, resolver_csp, route_class
from tests.api.flows import Api, World, auth, ok

_INT64_MAX = 2**63 - 1


def test_every_route_class_gets_its_headers_errors_included(world: World) -> None:
    client = world.api.client
    gtin, serial = world.gtin, world.serials[0]
    for path, expected in (
        (f"/01/{gtin}/21/{serial}", RouteClass.RESOLVER),
        ("/.well-known/gs1resolver", RouteClass.RESOLVER),
        ("/ARHKVAdpQg", RouteClass.RESOLVER),  # a compressed Digital Link (an unknown GTIN: 404)
        (f"/qr/01/{gtin}/21/{serial}", RouteClass.PAGE),
        ("/docs", RouteClass.DOCS),
        ("/healthz", RouteClass.API),
        ("/shipments", RouteClass.API),  # 401: refusals carry them too
        ("/01/12345678901231/21/nothing", RouteClass.RESOLVER),  # 404 page
        ("/reports/form", RouteClass.PAGE),  # the report form's answers (405 to a GET)
        ("/reports", RouteClass.API),  # the brand's inbox (401 without a key)
    ):
        response = client.get(path)
        assert route_class(path) is expected
        for name, value in POLICIES[expected].items():
            assert response.headers.get(name) == value, (path, name)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # The report pages run exactly one script, the local-time one, by hash (no 'self', no
    # 'unsafe-inline'); the resolver's item page that one and its verifier
    # (tests/api/test_verifier_csp.py); JSON can never render as a document.
    page_policy = POLICIES[RouteClass.PAGE]["Content-Security-Policy"]
    directives = dict(d.strip().partition(" ")[::2] for d in page_policy.split(";"))
    assert directives["script-src"] == LOCAL_TIME_SCRIPT_HASH
    assert POLICIES[RouteClass.RESOLVER]["Content-Security-Policy"] == resolver_csp(None)
    assert "sandbox" in POLICIES[RouteClass.API]["Content-Security-Policy"]
    # The body guard's refusals happen before routing and carry the headers as well.
    deep = client.post("/principals", content=b"[" * 100 + b"]" * 100)
    assert deep.status_code == 400 and deep.headers["X-Frame-Options"] == "DENY"


def test_a_utf16_body_is_bounded_as_the_parser_reads_it(api: Api) -> None:
    # json.loads(bytes) reads UTF-16: a byte scanner took U+2200 (bytes 00 22) for a quote.
    bomb = ('["\u2200",' + "[" * 2500 + "]" * 2500 + "]").encode("utf-16-le")
    for headers in ({}, auth(api.admin_key)):
        response = api.client.post("/principals", content=bomb, headers=headers)
        assert response.status_code == 400, response.text
        assert "nested deeper than 64" in response.json()["detail"]


def test_metrics_need_an_admin_or_auditor_key(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 401
    brand = api.principal("brand")
    assert api.client.get("/metrics", headers=auth(brand)).status_code == 403
    auditor = api.principal("auditor")
    scrape = api.client.get("/metrics", headers=auth(auditor))
    assert scrape.status_code == 200 and "chaintrace_events" in scrape.text
    limit = next(
        line for line in scrape.text.splitlines() if line.startswith("chaintrace_api_recursion")
    )
    assert float(limit.split()[-1]) <= 3000


def test_the_principal_directory_is_the_admins(api: Api) -> None:
    carrier = api.principal("carrier", name="Carrier A")
    buyer = api.principal("buyer", name="Buyer B")
    carrier_id, buyer_id = api.principal_id(carrier), api.principal_id(buyer)
    # Another tenant learns neither the name nor whether the id exists.
    other = api.client.get(f"/principals/{carrier_id}", headers=auth(buyer))
    absent = api.client.get("/principals/999999", headers=auth(buyer))
    assert other.status_code == absent.status_code == 404
    assert "Carrier A" not in other.text
    assert api.client.get("/principals", headers=auth(buyer)).status_code == 403
    assert ok(api.client.get(f"/principals/{buyer_id}", headers=auth(buyer)))["name"] == "Buyer B"
    admin_view = ok(api.client.get(f"/principals/{carrier_id}", headers=auth(api.admin_key)))
    assert admin_view["name"] == "Carrier A"
    assert len(ok(api.client.get("/principals", headers=auth(api.admin_key)))) >= 3


@pytest.mark.parametrize("big", [_INT64_MAX + 1, 2**64, 10**30])
def test_ids_beyond_64_bits_are_422_not_a_server_error(world: World, big: int) -> None:
    client, api = world.api.client, world.api
    response = client.get(f"/principals/{big}", headers=auth(api.admin_key))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "principal_id"]
    body = {
        "carrier": big,
        "payee": "0x" + "66" * 20,
        "items": [{"gtin": world.gtin, "serial": world.serials[0]}],
        "terms": {},
    }
    shipment = client.post("/shipments", json=body, headers=auth(world.buyer_key))
    assert shipment.status_code == 422
    assert ["body", "carrier"] in [e["loc"] for e in shipment.json()["detail"]]
    evidence = client.post(
        f"/shipments/{world.shipment_id}/dispute/evidence-tx",
        json={"device": "0x" + "11" * 20, "seq": big},
        headers=auth(world.buyer_key),
    )
    assert evidence.status_code == 422, evidence.text


def test_a_422_never_echoes_large_input(api: Api) -> None:
    huge_name = "x" * 100_000
    nested = [[[[["deep"] * 50] * 5] * 5] * 5]
    for value in (huge_name, nested):
        response = api.client.post(
            "/principals", json={"name": value, "role": "emperor"}, headers=auth(api.admin_key)
        )
        assert response.status_code == 422
        assert len(response.content) < 2_000, len(response.content)
    small = api.client.post(
        "/principals", json={"name": "ok", "role": "emperor"}, headers=auth(api.admin_key)
    )
    assert small.json()["detail"][0]["input"] == "emperor"  # short scalars are still shown


def test_a_flood_of_health_checks_reads_the_chain_once_per_ttl(api: Api) -> None:
    started = time.monotonic()
    for _ in range(50):
        health = ok(api.client.get("/healthz"))
        assert health["chain"]["chainId"] > 0
    elapsed = time.monotonic() - started
    app: Any = api.client.app
    # One node read per CHAIN_STATUS_TTL_S however many checks (1 unless the machine crawls).
    assert app.state.chain_status.reads <= 1 + int(elapsed / CHAIN_STATUS_TTL_S)
