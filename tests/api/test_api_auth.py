"""Authentication (API keys) and authorisation (roles, object ownership)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from store.principals import revoke_api_key
from tests.api.flows import OTHER_PREFIX, PREFIX, Api, World, auth, gtin13, ok


def test_writes_without_a_key_are_401(api: Api) -> None:
    for method, path, body in [
        ("post", "/principals", {"name": "x", "role": "buyer"}),
        ("post", "/brands", {"companyPrefix": PREFIX, "name": "x"}),
        ("post", "/products", {"gtin": gtin13(PREFIX, "1"), "name": "x"}),
        ("post", "/devices", {}),
        ("post", "/shipments", {}),
        ("post", "/shipments/0x" + "00" * 32 + "/events", {"bizStep": "shipping"}),
    ]:
        response = api.client.request(method, path, json=body)
        assert response.status_code == 401, (path, response.text)
        assert "API key" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_and_revoked_keys_are_401(api: Api) -> None:
    bad = api.client.get("/principals/me", headers=auth("ct_" + "x" * 43))
    assert bad.status_code == 401 and bad.json()["detail"] == "unknown or revoked API key"
    key = api.principal("buyer")
    ok(api.client.get("/principals/me", headers=auth(key)))
    with Session(api.engine) as session, session.begin():
        assert revoke_api_key(session, key)
    assert api.client.get("/principals/me", headers=auth(key)).status_code == 401


def test_x_api_key_header_works_too(api: Api) -> None:
    key = api.principal("carrier")
    me = ok(api.client.get("/principals/me", headers={"X-API-Key": key}))
    assert me["role"] == "carrier"


def test_only_admins_create_principals_and_keys(api: Api) -> None:
    key = api.principal("brand")
    body = {"name": "sneaky", "role": "admin"}
    response = api.client.post("/principals", json=body, headers=auth(key))
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    brand_id = api.principal_id(key)
    assert api.client.post(f"/principals/{brand_id}/api-keys", headers=auth(key)).status_code == 403
    # The admin can issue a second key; both keys act as the same principal.
    second = ok(
        api.client.post(f"/principals/{brand_id}/api-keys", headers=auth(api.admin_key)), 201
    )
    assert api.principal_id(second["apiKey"]) == brand_id


def test_brand_cannot_add_a_product_outside_its_prefix(api: Api) -> None:
    assert api.chain is not None
    key = api.brand(api.chain.brand)
    response = api.client.post(
        "/products", json={"gtin": gtin13(OTHER_PREFIX, "1"), "name": "fake"}, headers=auth(key)
    )
    assert response.status_code == 403
    assert PREFIX in response.json()["detail"]
    ok(
        api.client.post(
            "/products", json={"gtin": gtin13(PREFIX, "1"), "name": "ok"}, headers=auth(key)
        ),
        201,
    )


def test_only_brands_add_products_and_only_their_own_items(api: Api) -> None:
    assert api.chain is not None
    key = api.brand(api.chain.brand)
    gtin = gtin13(PREFIX, "7")
    api.product(key, gtin)
    carrier = api.principal("carrier")
    body = {"gtin": gtin13(PREFIX, "8"), "name": "x"}
    assert api.client.post("/products", json=body, headers=auth(carrier)).status_code == 403
    # Another brand may not commission items of this brand's GTIN.
    other = api.brand(api.chain.stranger, OTHER_PREFIX, "Other Brand")
    response = api.client.post(
        f"/products/{gtin}/items", json={"serials": ["X1"]}, headers=auth(other)
    )
    assert response.status_code == 403
    assert api.client.get(f"/products/{gtin}/items", headers=auth(other)).status_code == 403


def test_carrier_cannot_record_events_on_another_carriers_shipment(world: World) -> None:
    url = f"/shipments/{world.shipment_id}/events"
    response = world.api.client.post(
        url, json={"bizStep": "shipping"}, headers=auth(world.other_carrier_key)
    )
    # As if it did not exist: a non-party learns nothing of another tenant's shipment.
    assert response.status_code == 404
    assert "no shipment" in response.json()["detail"]
    # ... and does not see it either.
    get = world.api.client.get(
        f"/shipments/{world.shipment_id}", headers=auth(world.other_carrier_key)
    )
    assert get.status_code == 404


def test_buyer_cannot_record_shipping_or_arriving(world: World) -> None:
    url = f"/shipments/{world.shipment_id}/events"
    for step in ("shipping", "arriving"):
        response = world.api.client.post(url, json={"bizStep": step}, headers=auth(world.buyer_key))
        assert response.status_code == 403
        assert "carrier" in response.json()["detail"]


def test_only_the_consignee_records_receiving(world: World) -> None:
    url = f"/shipments/{world.shipment_id}/events"
    carrier = world.api.client.post(
        url, json={"bizStep": "receiving"}, headers=auth(world.carrier_key)
    )
    assert carrier.status_code == 403
    assert "consignee" in carrier.json()["detail"]
    recorded = ok(
        world.api.client.post(url, json={"bizStep": "receiving"}, headers=auth(world.buyer_key)),
        201,
    )
    assert recorded["shipmentStatus"] == "received"
    # A buyer who is not the consignee of this shipment is not a party.
    other_buyer = world.api.principal("buyer")
    response = world.api.client.post(url, json={"bizStep": "receiving"}, headers=auth(other_buyer))
    assert response.status_code == 404


def test_partners_see_only_their_own_devices(world: World) -> None:
    api = world.api
    assert api.chain is not None
    other_device = api.device(world.other_carrier_key, api.chain.stranger, "other logger")
    mine = ok(api.client.get("/devices", headers=auth(world.carrier_key)))
    assert [d["address"] for d in mine] == [world.device.address]
    theirs = ok(api.client.get("/devices", headers=auth(world.other_carrier_key)))
    assert [d["address"] for d in theirs] == [other_device.address]
    for method in ("get", "delete"):
        response = api.client.request(
            method, f"/devices/{world.device.address}", headers=auth(world.other_carrier_key)
        )
        assert response.status_code == 404
    # The device is still active: the other carrier's delete did nothing.
    device = ok(api.client.get(f"/devices/{world.device.address}", headers=auth(world.carrier_key)))
    assert device["active"] is True
    # Buyers and brands have no devices to see.
    assert api.client.get("/devices", headers=auth(world.buyer_key)).status_code == 403


def test_shipments_are_listed_only_for_their_parties(world: World) -> None:
    api = world.api
    for key in (world.buyer_key, world.carrier_key):
        listed = ok(api.client.get("/shipments", headers=auth(key)))
        assert [s["shipmentId"] for s in listed] == [world.shipment_id]
    assert ok(api.client.get("/shipments", headers=auth(world.other_carrier_key))) == []
    everything = ok(api.client.get("/shipments", headers=auth(api.admin_key)))
    assert [s["shipmentId"] for s in everything] == [world.shipment_id]
