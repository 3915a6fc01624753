"""End to end with the real anchoring worker: the brand-signed root lands on chain, and the
resolver shows pending -> anchored -> final, with proofs the contract accepts."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session
from web3 import Web3

from chain.anchoring import AnchorWorker
from chain.settings import AnchorSettings
from store.db import session_factory
from store.models import Brand, Item, Product, Role
from store.principals import create_principal
from tests.api.flows import PREFIX, Api, World, auth, gtin13, ok

CONFIRMATIONS = 2


def _send(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> None:
    """The wallet's side: sign the unsigned transaction the API built and send it."""
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1


def _worker(api: Api) -> AnchorWorker:
    chain = api.chain
    assert chain is not None
    settings = AnchorSettings(
        chaintrace_dev=True,
        database_url=api.engine.url.render_as_string(hide_password=False),
        chain_rpc_url=chain.node.rpc_url,
        finality="confirmations",
        confirmations=CONFIRMATIONS,
        max_batch_delay=0,
    )
    return AnchorWorker(
        settings, session_factory(api.engine), chain.w3, chain.anchorer, chain.deployment
    )


def _register_brand(api: Api) -> None:
    """The platform admin's wallet sends the registerBrand transaction the API prepared."""
    chain = api.chain
    assert chain is not None
    built = ok(
        api.client.get(
            f"/brands/{PREFIX}/registration-tx",
            params={"sender": chain.admin.address},
            headers=auth(api.admin_key),
        )
    )
    assert built["tx"]["to"] == chain.deployment.trace_anchor
    assert built["tx"]["chainId"] == chain.w3.eth.chain_id
    _send(chain.w3, chain.admin, built["tx"])


def _history(api: Api, gtin: str, serial: str) -> list[dict[str, Any]]:
    body = ok(api.client.get(f"/01/{gtin}/21/{serial}", params={"format": "json"}))
    return list(body["history"])


def _mine(w3: Web3, blocks: int) -> None:
    w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


def test_brand_registration_tx_registers_the_prefix(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    before = ok(api.client.get(f"/brands/{PREFIX}"))
    assert before["onChain"] == {"registered": False, "brandAddress": None, "matchesWallet": False}
    _register_brand(api)
    after = ok(api.client.get(f"/brands/{PREFIX}"))
    assert after["onChain"]["registered"] and after["onChain"]["matchesWallet"]
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
    _register_brand(api)
    worker = _worker(api)
    [commissioning] = _history(api, world.gtin, "A1")
    assert commissioning["finality"] == "pending"

    worker.run_once()
    [commissioning] = _history(api, world.gtin, "A1")
    assert commissioning["finality"] == "anchored"  # in a block, not final yet
    root = commissioning["root"]
    info = chain.anchor.root_info(root)
    leaves = len(world.serials) + len(world.spare)  # one commissioning event per item
    assert info.anchored and info.brand == chain.brand.address and info.leaf_count == leaves
    for serial in world.serials:
        [event] = _history(api, world.gtin, serial)
        assert event["root"] == root
        assert chain.anchor.verify(
            event["kind"],
            bytes.fromhex(event["eventHashHex"][2:]),
            bytes.fromhex(event["salt"][2:]),
            event["proof"],
        )
    batch = ok(api.client.get(f"/batches/{root}"))
    assert batch["status"] == "anchored" and batch["commissioningBrand"] == chain.brand.address
    assert batch["txHash"] == commissioning["anchoring"]["txHash"] is not None

    _mine(chain.w3, CONFIRMATIONS)
    worker.run_once()
    [commissioning] = _history(api, world.gtin, "A1")
    assert commissioning["finality"] == "final"
    assert ok(api.client.get(f"/batches/{root}"))["status"] == "final"
    page = api.client.get(f"/01/{world.gtin}/21/A1", headers={"Accept": "text/html"}).text
    assert "authentic &middot; final" in page


def test_shipment_events_are_anchored_as_platform_batches(world: World) -> None:
    api = world.api
    chain = api.chain
    assert chain is not None
    _register_brand(api)
    url = f"/shipments/{world.shipment_id}/events"
    recorded = ok(
        api.client.post(url, json={"bizStep": "shipping"}, headers=auth(world.carrier_key)), 201
    )
    worker = _worker(api)
    worker.run_once()
    history = _history(api, world.gtin, "A2")
    shipping = next(e for e in history if e["id"] == recorded["id"])
    assert shipping["eventHash"] == recorded["eventHash"]
    assert shipping["finality"] == "anchored"
    assert chain.anchor.root_info(shipping["root"]).brand is None
    assert chain.anchor.verify_against(
        bytes.fromhex(shipping["root"][2:]),
        0,
        bytes.fromhex(shipping["eventHashHex"][2:]),
        bytes.fromhex(shipping["salt"][2:]),
        shipping["proof"],
    )
    events = ok(api.client.get(url, headers=auth(world.buyer_key)))
    assert [(e["bizStep"], e["finality"]) for e in events] == [("shipping", "anchored")]


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
    assert body["verify"]["contract"] is None
    page = api.client.get(f"/01/{gtin}/21/T1", headers={"Accept": "text/html"}).text
    assert "No events recorded" in page and "No chain is configured" in page
    key = api.principal("carrier", "0x" + "11" * 20)
    response = api.client.get(
        "/devices/registration-typed-data", params={"address": "0x" + "22" * 20}, headers=auth(key)
    )
    assert response.status_code == 503
    assert "CHAIN_RPC_URL" in response.json()["detail"]
