"""End to end with the real anchoring worker: the brand-signed root lands on chain, and the
resolver shows pending -> anchored -> final, with proofs the contract accepts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chain.clients.trace_anchor_v2 import TraceAnchorV2Client
from store.models import Brand, Item, Product, Role
from store.principals import create_principal
from tests.api.flows import (
    CONFIRMATIONS,
    PREFIX,
    Api,
    World,
    anchor_worker,
    auth,
    gtin13,
    mine,
    ok,
    register_brand_on_chain,
)


def _history(api: Api, gtin: str, serial: str) -> list[dict[str, Any]]:
    body = ok(api.client.get(f"/01/{gtin}/21/{serial}", params={"format": "json"}))
    return list(body["history"])


def test_brand_registration_tx_registers_the_prefix(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    before = ok(api.client.get(f"/brands/{PREFIX}"))["onChain"]
    assert before["registered"] is False and before["status"] == "unregistered"
    assert before["brandAddress"] is None and before["matchesWallet"] is False
    register_brand_on_chain(api)
    after = ok(api.client.get(f"/brands/{PREFIX}"))["onChain"]
    assert after["registered"] and after["matchesWallet"] and after["status"] == "registered"
    assert after["registeredBlock"] is not None and after["revokedBlock"] is None
    # Registered once: a second transaction would revert, so the API refuses to build it.
    again = api.client.get(
        f"/brands/{PREFIX}/registration-tx",
        params={"sender": chain.admin.address},
        headers=auth(api.admin_key),
    )
    assert again.status_code == 409


def test_registration_tx_from_a_non_admin_wallet_names_the_error(world: World) -> None:
    api = world.api
    assert api.chain is not None
    response = api.client.get(
        f"/brands/{PREFIX}/registration-tx",
        params={"sender": api.chain.stranger.address},
        headers=auth(api.admin_key),
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "AccessControlUnauthorizedAccount"
    assert "role" in body["detail"] and "0x" not in body["detail"]


def test_commissioning_anchors_with_the_brand_signature_and_finalises(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    register_brand_on_chain(api)
    worker = anchor_worker(api, CONFIRMATIONS)
    [commissioning] = _history(api, world.gtin, "A1")
    assert commissioning["finality"] == "pending"

    worker.run_once()
    [commissioning] = _history(api, world.gtin, "A1")
    assert commissioning["finality"] == "anchored"  # in a block, not final yet
    root = commissioning["root"]
    info = chain.anchor.root_info(root)
    # One commissioning event per item, its leaf and the kind 2 leaf of its projection.
    leaves = 2 * (len(world.serials) + len(world.spare))
    assert info.anchored and info.brand == chain.brand.address and info.leaf_count == leaves
    v2 = TraceAnchorV2Client(chain.w3, chain.deployment.roots_anchor.address)
    for serial in world.serials:
        # Each item's commissioning projection is in the brand's root, proven on chain.
        [event] = _history(api, world.gtin, serial)
        assert event["root"] == root and event["proven"]
        assert v2.verify_member(
            event["eventKind"],
            bytes.fromhex(event["projectionHash"][2:]),
            bytes.fromhex(event["salt"][2:]),
            event["proof"],
        )
    batch = ok(api.client.get(f"/batches/{root}"))
    assert batch["status"] == "anchored" and batch["commissioningBrand"] == chain.brand.address
    assert batch["txHash"] == commissioning["anchoring"]["txHash"] is not None

    mine(chain.w3, CONFIRMATIONS)
    worker.run_once()
    [commissioning] = _history(api, world.gtin, "A1")
    assert commissioning["finality"] == "final"
    assert ok(api.client.get(f"/batches/{root}"))["status"] == "final"
    authentic = ok(api.client.get(f"/01/{world.gtin}/21/A1", params={"format": "json"}))[
        "authentic"
    ]
    assert authentic["verdict"] == "genuine" and authentic["confirmedBy"] == chain.brand.address
    page = api.client.get(f"/01/{world.gtin}/21/A1", headers={"Accept": "text/html"}).text
    assert 'data-verdict="genuine">' in page and "made and registered this item." in page


def test_shipment_events_are_anchored_as_platform_batches(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    register_brand_on_chain(api)
    url = f"/shipments/{world.shipment_id}/events"
    recorded = ok(
        api.client.post(url, json={"bizStep": "shipping"}, headers=auth(world.carrier_key)), 201
    )
    worker = anchor_worker(api, CONFIRMATIONS)
    worker.run_once()
    history = _history(api, world.gtin, "A2")
    [shipping] = [e for e in history if e["bizStep"] == "shipping"]
    assert recorded["bizStep"] == "shipping"
    assert shipping["finality"] == "anchored"
    assert chain.anchor.root_info(shipping["root"]).brand is None
    projection_hash = bytes.fromhex(shipping["projectionHash"][2:])
    v2 = TraceAnchorV2Client(chain.w3, shipping["anchoring"]["contract"])
    assert v2.verify_member(
        0, projection_hash, bytes.fromhex(shipping["salt"][2:]), shipping["proof"]
    )
    events = ok(api.client.get(url, headers=auth(world.buyer_key)))
    # The platform's packing of the items into the shipment's container is anchored with it.
    assert [(e["bizStep"], e["finality"]) for e in events] == [
        ("packing", "anchored"),
        ("shipping", "anchored"),
    ]


def test_resolver_works_without_a_chain(api_no_chain: Api) -> None:
    """The store's history is served even when no chain is configured; chain writes are 503."""
    api = api_no_chain
    assert ok(api.client.get("/healthz"))["chain"] == {"configured": False}
    gtin = gtin13(PREFIX, "4242")
    with Session(api.engine) as session, session.begin():
        owner = create_principal(session, "Acme", Role.BRAND, "0x" + "33" * 20)
        brand = Brand(principal_id=owner.id, company_prefix=PREFIX, name="Acme")
        session.add(brand)
        session.flush()
        product = Product(brand_id=brand.id, gtin="0" + gtin, name="Tea")
        session.add(product)
        session.flush()
        session.add(Item(product_id=product.id, serial="T1"))
    body = ok(api.client.get(f"/01/{gtin}/21/T1", params={"format": "json"}))
    assert body["history"] == [] and body["authentic"]["status"] == "none"
    # Without a chain no verdict is given: never "no registered brand" for want of one.
    assert body["authentic"]["verdict"] is None
    assert body["authentic"]["text"] == "Authenticity cannot be checked right now"
    unknown = api.client.get(f"/01/{gtin}/21/NOPE", params={"format": "json"}).json()
    assert unknown["authentic"]["verdict"] is None
    assert body["verify"]["contract"] is None
    page = api.client.get(f"/01/{gtin}/21/T1", headers={"Accept": "text/html"}).text
    assert "No steps recorded for this item yet." in page and "No chain is configured" in page
    key = api.principal("carrier", "0x" + "11" * 20)
    response = api.client.get(
        "/devices/registration-typed-data", params={"address": "0x" + "22" * 20}, headers=auth(key)
    )
    assert response.status_code == 503
    assert "CHAIN_RPC_URL" in response.json()["detail"]
