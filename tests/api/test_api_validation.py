"""Bad input is a 422 that names the field; unknown things are 404; nothing crashes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.flows import PREFIX, Api, World, auth, gtin13, ok


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    return dict(error)


@pytest.fixture
def brand_key(api: Api) -> str:
    assert api.chain is not None
    return api.brand(api.chain.brand)


def test_bad_gtin_check_digit_names_the_field(api: Api, brand_key: str) -> None:
    good = gtin13(PREFIX, "1")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    error = _error(
        api.client.post("/products", json={"gtin": bad, "name": "x"}, headers=auth(brand_key))
    )
    assert error["loc"] == ["body", "gtin"]
    assert "check digit" in error["msg"]
    error = _error(api.client.get(f"/products/{bad}"))
    assert error["loc"] == ["path", "gtin"]
    for wrong in ("12345", "abcdefghijklm", "٠٦١٤١٤١٠٠٠٠١٣"):
        response = api.client.post(
            "/products", json={"gtin": wrong, "name": "x"}, headers=auth(brand_key)
        )
        assert _error(response)["loc"] == ["body", "gtin"]


def test_missing_and_unknown_body_fields_are_named(api: Api, brand_key: str) -> None:
    error = _error(
        api.client.post("/products", json={"gtin": gtin13(PREFIX, "1")}, headers=auth(brand_key))
    )
    assert error["loc"] == ["body", "name"] and error["type"] == "missing"
    body = {"gtin": gtin13(PREFIX, "1"), "name": "x", "colour": "red"}
    error = _error(api.client.post("/products", json=body, headers=auth(brand_key)))
    assert error["loc"] == ["body", "colour"]
    response = api.client.post(
        "/products",
        content=b"{not json",
        headers={**auth(brand_key), "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_bad_company_prefix_and_serials_are_named(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("brand", api.chain.brand.address)
    error = _error(
        api.client.post("/brands", json={"companyPrefix": "12a45", "name": "x"}, headers=auth(key))
    )
    assert error["loc"] == ["body", "companyPrefix"]
    ok(
        api.client.post("/brands", json={"companyPrefix": PREFIX, "name": "x"}, headers=auth(key)),
        201,
    )
    gtin = gtin13(PREFIX, "9")
    api.product(key, gtin)
    url = f"/products/{gtin}/items"
    error = _error(api.client.post(url, json={"serials": ["ok", "has space"]}, headers=auth(key)))
    assert error["loc"] == ["body", "serials", 1]
    error = _error(api.client.post(url, json={"serials": ["x" * 21]}, headers=auth(key)))
    assert error["loc"] == ["body", "serials", 0]
    error = _error(api.client.post(url, json={"serials": ["S1", "S1"]}, headers=auth(key)))
    assert error["loc"] == ["body", "serials", 1] and "twice" in error["msg"]
    error = _error(api.client.post(url, json={"serials": []}, headers=auth(key)))
    assert error["loc"] == ["body", "serials"]


def test_shipment_body_errors_are_named(world: World) -> None:
    api = world.api
    assert api.chain is not None
    carrier_id = api.principal_id(world.carrier_key)
    base: dict[str, Any] = {
        "carrier": carrier_id,
        "payee": api.chain.payee.address,
        "items": [{"gtin": world.gtin, "serial": world.spare[0]}],
        "devices": [world.device.address],
        "terms": api.terms(),
    }

    def post(**changes: Any) -> dict[str, Any]:
        return _error(
            api.client.post("/shipments", json={**base, **changes}, headers=auth(world.buyer_key))
        )

    assert post(items=[{"gtin": "123", "serial": "A1"}])["loc"] == ["body", "items", 0, "gtin"]
    assert post(items=[{"gtin": world.gtin, "serial": "NOPE"}])["loc"] == ["body", "items", 0]
    assert post(payee="0x1234")["loc"] == ["body", "payee"]
    assert post(carrier=api.principal_id(world.buyer_key))["loc"] == ["body", "carrier"]
    assert post(devices=["0x" + "44" * 20])["loc"] == ["body", "devices", 0]
    assert post(terms={**base["terms"], "penaltyCapBps": 10_001})["loc"] == [
        "body",
        "terms",
        "penaltyCapBps",
    ]
    assert post(terms={**base["terms"], "amountWei": 0})["loc"] == ["body", "terms", "amountWei"]
    assert post(terms={**base["terms"], "deadline": 1})["loc"] == ["body", "terms", "deadline"]
    band = post(terms={**base["terms"], "minTempCentiC": 900})
    assert band["loc"] == ["body", "terms"] and "minTempCentiC" in band["msg"]


def test_event_body_errors_are_named(world: World) -> None:
    url = f"/shipments/{world.shipment_id}/events"
    carrier = auth(world.carrier_key)
    error = _error(world.api.client.post(url, json={"bizStep": "teleporting"}, headers=carrier))
    assert error["loc"] == ["body", "bizStep"]
    error = _error(
        world.api.client.post(
            url, json={"bizStep": "shipping", "gps": {"lat": 91, "lon": 0}}, headers=carrier
        )
    )
    assert error["loc"] == ["body", "gps", "lat"]
    error = _error(
        world.api.client.post(
            url, json={"bizStep": "shipping", "eventTime": "2999-01-01T00:00:00Z"}, headers=carrier
        )
    )
    assert error["loc"] == ["body", "eventTime"]
    full = {
        "type": "ObjectEvent",
        "bizStep": "shipping",
        "epcList": ["urn:epc:id:sgtin:0614141.012345.A1"],
        "eventTime": "yesterday",
    }
    error = _error(world.api.client.post(url, json=full, headers=carrier))
    assert error["loc"][0] == "body"


def test_bad_path_values(api: Api) -> None:
    assert _error(api.client.get("/batches/0x1234"))["loc"] == ["path", "root"]
    missing = api.client.get("/batches/0x" + "00" * 32)
    assert missing.status_code == 404 and "no anchor batch" in missing.json()["detail"]
    key = api.principal("carrier", "0x" + "55" * 20)
    assert _error(api.client.get("/devices/0xnothex", headers=auth(key)))["loc"] == [
        "path",
        "address",
    ]
    assert api.client.get("/principals/999999", headers=auth(key)).status_code == 404
    assert (
        api.client.get(
            "/commissionings/doesnotexist", headers=auth(api.principal("brand"))
        ).status_code
        == 404
    )


def test_health_and_metrics(world: World) -> None:
    api = world.api
    health = ok(api.client.get("/healthz"))
    assert health["status"] == "ok" and health["database"] == "ok"
    assert health["chain"]["chainId"] == api.chain.w3.eth.chain_id  # type: ignore[union-attr]
    metrics = api.client.get("/metrics", headers=auth(api.admin_key))
    assert metrics.status_code == 200
    text = metrics.text
    assert "chaintrace_items 5.0" in text  # the shipment's 2 and 3 spare
    assert "chaintrace_events 6.0" in text  # a commissioning per item, the device registration
    assert 'chaintrace_anchor_batches{status="pending"} 1.0' in text
    assert 'chaintrace_shipments{status="created"} 1.0' in text


def test_openapi_documents_every_route(api: Api) -> None:
    spec = ok(api.client.get("/openapi.json"))
    paths = spec["paths"]
    for path in (
        "/principals",
        "/brands/{prefix}/registration-tx",
        "/products/{gtin}/items",
        "/commissionings/{draft_id}/signature",
        "/devices",
        "/shipments/{shipment_id}/funding-tx",
        "/shipments/{shipment_id}/events",
        "/01/{gtin}/21/{serial}",
        "/qr/01/{gtin}/21/{serial}",
        "/batches/{root}",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation.get("description") or operation.get("summary"), path


def test_oversized_bodies_are_refused_before_parsing(api: Api) -> None:
    key = api.principal("carrier", "0x" + "66" * 20)
    huge = b'{"label": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = api.client.post(
        "/devices", content=huge, headers={**auth(key), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_location_ids_must_be_uris(world: World) -> None:
    url = f"/shipments/{world.shipment_id}/events"
    body = {"bizStep": "shipping", "readPoint": "dock 3, Hamburg"}
    error = _error(world.api.client.post(url, json=body, headers=auth(world.carrier_key)))
    assert error["loc"] == ["body", "readPoint"]


def test_a_non_string_epc_is_named_not_a_server_error(world: World) -> None:
    body = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "epcList": [{}]}
    r = world.api.client.post(
        f"/shipments/{world.shipment_id}/events", json=body, headers=auth(world.carrier_key)
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "epcList", 0]


def test_nul_characters_are_refused_in_bodies_queries_and_paths(api_no_chain: Api) -> None:
    """PostgreSQL text cannot hold NUL (a 500 from the driver) and SQLite would store it: 422."""
    client, key = api_no_chain.client, auth(api_no_chain.admin_key)
    headers = {**key, "Content-Type": "application/json"}
    nul = '{"name": "a\\u0000b", "role": "brand"}'
    after_a_backslash = '{"name": "a\\\\\\u0000", "role": "brand"}'
    for body in (nul, after_a_backslash):
        answer = client.post("/principals", content=body, headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body"]
    text = '{"name": "a\\\\u0000b", "role": "brand"}'  # a backslash, then the text u0000
    created = client.post("/principals", content=text, headers=headers)
    assert created.status_code == 201 and created.json()["name"] == "a\\u0000b"
    query = client.get("/audit-log?action=a%00b", headers=key)
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query"]
    path = client.get("/products/0%0012", headers=key)
    assert path.status_code == 422 and path.json()["detail"][0]["loc"] == ["path"]
    assert client.get("/principals/me", headers=key).status_code == 200  # the API lives on
