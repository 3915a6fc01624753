"""Shipments: terms both parties sign, the buyer's funding transaction, events and status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from chain.clients import ShipmentState
from chain.toolchain.artifacts import ContractArtifact
from chain.transactions import sender_for
from core.epcis.events import CONTAINER_EPC
from core.gs1 import normalize_gtin
from store.models import Event, Shipment
from store.queries import find_item
from tests.api.flows import (
    World,
    approve_custody,
    auth,
    follow,
    ok,
    sign_typed,
    sql_writes,
    typed_message,
)
from tests.chain.token_support import _deploy
from tests.chain.token_support import token_artifacts as token_artifacts  # the fixture
from tests.utils.anvil import ChainEnv


def _sign_terms(world: World, account: LocalAccount, key: str) -> dict[str, Any]:
    url = f"/shipments/{world.shipment_id}/signatures"
    signature = sign_typed(account, world.typed_data)
    return dict(ok(world.api.client.post(url, json={"signature": signature}, headers=auth(key))))


def _fund(world: World) -> dict[str, Any]:
    """The buyer funds with the API's unsigned transaction; the tx plus its block and hash."""
    chain = world.api.chain
    assert chain is not None
    built = ok(
        world.api.client.get(
            f"/shipments/{world.shipment_id}/funding-tx", headers=auth(world.buyer_key)
        )
    )
    tx = built["tx"]
    signed = chain.buyer.sign_transaction(tx)
    w3: Web3 = chain.w3
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    return {
        **tx,
        "blockNumber": int(receipt["blockNumber"]),
        "hash": "0x" + bytes(receipt["transactionHash"]).hex(),
    }


def _shown(world: World, key: str | None = None) -> dict[str, Any]:
    url = f"/shipments/{world.shipment_id}"
    return dict(ok(world.api.client.get(url, headers=auth(key or world.buyer_key))))


def test_terms_typed_data_matches_the_deployed_escrow(world: World) -> None:
    chain = world.api.chain
    assert chain is not None
    typed = world.typed_data
    assert typed["primaryType"] == "Terms"
    assert typed["domain"] == chain.escrow.eip712_domain()
    message = typed["message"]
    assert message["shipmentId"] == world.shipment_id
    assert (message["buyer"], message["payee"]) == (chain.buyer.address, chain.payee.address)
    shown = ok(
        world.api.client.get(f"/shipments/{world.shipment_id}", headers=auth(world.buyer_key))
    )
    assert message["amount"] == str(10**18)  # uint256 as a decimal string
    terms = {**typed_message(typed), "shipmentId": bytes.fromhex(message["shipmentId"][2:])}
    assert shown["termsHash"] == "0x" + chain.escrow.hash_terms(terms).hex()


def test_both_signatures_then_funding_tx_funds_the_escrow(world: World) -> None:
    chain = world.api.chain
    assert chain is not None
    early = world.api.client.get(
        f"/shipments/{world.shipment_id}/funding-tx", headers=auth(world.buyer_key)
    )
    assert early.status_code == 409 and "buyer and payee" in early.json()["detail"]
    first = _sign_terms(world, chain.buyer, world.buyer_key)
    assert first["role"] == "buyer" and not first["readyToFund"]
    # The payee (the carrier's wallet) signs; the carrier submits it.
    second = _sign_terms(world, chain.payee, world.carrier_key)
    assert second["role"] == "payee" and second["readyToFund"]
    with Session(world.api.engine) as session:
        stored = session.scalars(
            select(Shipment).where(Shipment.shipment_id == world.shipment_id)
        ).one()
        assert stored.buyer_signature == bytes.fromhex(
            sign_typed(chain.buyer, world.typed_data)[2:]
        )
        assert stored.payee_signature == bytes.fromhex(
            sign_typed(chain.payee, world.typed_data)[2:]
        )
    carrier_try = world.api.client.get(
        f"/shipments/{world.shipment_id}/funding-tx", headers=auth(world.carrier_key)
    )
    assert carrier_try.status_code == 403
    tx = _fund(world)
    assert tx["from"] == chain.buyer.address and tx["value"] == hex(10**18)
    view = chain.escrow.shipment(world.shipment_id)
    assert view.state is ShipmentState.FUNDED and view.amount == 10**18
    # The API shows what the follower read: before its first pass, no escrow at all.
    shown = _shown(world)
    assert shown["status"] == "created" and shown["escrow"] is None
    report = follow(world.api)
    assert report.funded == [world.shipment_id]
    shown = _shown(world)
    assert shown["status"] == "funded"
    escrow = shown["escrow"]
    assert escrow["state"] == "funded" and escrow["termsHashMatches"]
    assert escrow["amountWei"] == str(10**18) and escrow["payoutWei"] == "0"
    assert (escrow["changedAtBlock"], escrow["txHash"]) == (tx["blockNumber"], tx["hash"])
    head = chain.w3.eth.get_block("latest")
    assert (escrow["asOfBlock"], escrow["asOfTime"]) == (head["number"], head["timestamp"])
    terms = world.typed_data["message"]
    assert escrow["refundableAt"] == int(terms["deadline"]) + int(terms["refundGrace"]) + 1
    assert escrow["refundableAt"] == view.refundable_at
    assert escrow["attestedAt"] is None and escrow["disputeEndsAt"] is None
    listed = ok(world.api.client.get("/shipments", headers=auth(world.carrier_key)))
    assert [s["escrow"] for s in listed] == [escrow]
    # Funded once: building the transaction again names the contract's reason, not hex.
    again = world.api.client.get(
        f"/shipments/{world.shipment_id}/funding-tx", headers=auth(world.buyer_key)
    )
    assert again.status_code == 409
    assert again.json()["error"] == "EscrowShipmentExists"
    assert again.json()["detail"] == (
        "the contract refused: a shipment with this id was funded before; ids are never reused"
    )


def _sign_both(world: World) -> None:
    chain = world.api.chain
    assert chain is not None
    _sign_terms(world, chain.buyer, world.buyer_key)
    _sign_terms(world, chain.payee, world.carrier_key)


def test_a_get_writes_nothing_and_shows_the_followed_block(world: World) -> None:
    api, sid = world.api, world.shipment_id
    _sign_both(world)
    assert follow(api).funded == []
    before = _shown(world)["escrow"]
    assert before["state"] == "none" and before["changedAtBlock"] is None
    tx = _fund(world)
    assert before["asOfBlock"] < tx["blockNumber"]
    reads = [
        f"/shipments/{sid}",
        "/shipments",
        f"/shipments/{sid}/typed-data",
        f"/shipments/{sid}/events",
        f"/shipments/{sid}/dispute",
    ]
    with sql_writes(api.engine) as writes:
        # The chain says funded; the follower has not read it: every GET shows the old block.
        answers = [api.client.get(url, headers=auth(world.buyer_key)) for url in reads]
    assert writes == []
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 409]
    shown, [listed] = answers[0].json(), answers[1].json()
    assert shown["status"] == listed["status"] == "created"
    assert shown["escrow"] == listed["escrow"] == before
    assert f"as of block {before['asOfBlock']}" in answers[4].json()["detail"]
    with sql_writes(api.engine) as writes:  # the control: writes are seen where they happen
        assert follow(api).funded == [sid]
    assert any(w.lstrip().upper().startswith("UPDATE SHIPMENTS") for w in writes), writes
    with sql_writes(api.engine) as writes:
        shown = _shown(world)
        disputed = ok(api.client.get(f"/shipments/{sid}/dispute", headers=auth(world.buyer_key)))
    assert writes == []
    assert shown["status"] == "funded" and shown["escrow"]["state"] == "funded"
    assert shown["escrow"]["changedAtBlock"] == tx["blockNumber"]
    assert disputed["state"] == "funded" and disputed["asOfBlock"] >= tx["blockNumber"]
    assert disputed["evidence"] == [] and disputed["disputeWindowEndsAt"] is None


def test_a_reorg_that_drops_the_funding_unfunds_the_shipment(world: World) -> None:
    api, sid = world.api, world.shipment_id
    chain = api.chain
    assert chain is not None
    _sign_both(world)
    tx = _fund(world)
    assert follow(api).funded == [sid]
    assert _shown(world)["escrow"]["state"] == "funded"

    # Every block from the funding on is replaced by an empty one: the deposit never happened.
    depth = int(chain.w3.eth.block_number) - tx["blockNumber"] + 1
    reply = chain.w3.provider.make_request("anvil_reorg", [depth, []])  # type: ignore[arg-type]
    assert "error" not in reply
    assert chain.escrow.shipment(sid).state is ShipmentState.NONE
    stale = _shown(world)  # what the follower read, until it sees the reorg
    assert stale["status"] == "funded" and stale["escrow"]["state"] == "funded"

    report = follow(api)
    assert report.reorged_from is not None and report.reorged_from <= tx["blockNumber"]
    assert report.unfunded == [sid]
    shown = _shown(world)
    assert shown["status"] == "created"
    escrow = shown["escrow"]
    assert escrow["state"] == "none" and escrow["changedAtBlock"] is None
    assert escrow["amountWei"] == "0" and escrow["refundableAt"] is None
    head = chain.w3.eth.get_block("latest")
    assert (escrow["asOfBlock"], escrow["asOfTime"]) == (head["number"], head["timestamp"])

    # The same signed terms fund it again on the new chain, and the follower sees that too.
    again = _fund(world)
    assert follow(api).funded == [sid]
    shown = _shown(world)
    assert shown["status"] == "funded"
    assert (shown["escrow"]["state"], shown["escrow"]["txHash"]) == ("funded", again["hash"])


def test_a_stranger_signature_is_refused(world: World) -> None:
    chain = world.api.chain
    assert chain is not None
    url = f"/shipments/{world.shipment_id}/signatures"
    signature = sign_typed(chain.stranger, world.typed_data)
    response = world.api.client.post(
        url, json={"signature": signature}, headers=auth(world.buyer_key)
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "signature"]
    assert chain.stranger.address in error["msg"]
    # Terms signed under another chain's domain do not count either.
    other_domain = {**world.typed_data, "domain": {**world.typed_data["domain"], "chainId": 1}}
    forged = sign_typed(chain.buyer, other_domain)
    response = world.api.client.post(url, json={"signature": forged}, headers=auth(world.buyer_key))
    assert response.status_code == 422


_PACKED_SHIPPED = ("packing", "shipping")


def test_events_move_the_shipment_forward(world: World) -> None:
    api = world.api
    url = f"/shipments/{world.shipment_id}/events"
    carrier, buyer = auth(world.carrier_key), auth(world.buyer_key)
    dock = "urn:epc:id:sgln:0614141.00001.0"
    shipping_body = {"bizStep": "shipping", "readPoint": dock}
    shipped = ok(api.client.post(url, json=shipping_body, headers=carrier), 201)
    assert shipped["shipmentStatus"] == "shipping"
    assert shipped["eventHash"].startswith("ni:///sha-256;") and shipped["finality"] == "pending"
    arriving_body = {"bizStep": "arriving", "gps": {"lat": 52.52, "lon": 13.405}}
    arrived = ok(api.client.post(url, json=arriving_body, headers=carrier), 201)
    assert arrived["shipmentStatus"] == "arrived"
    received = ok(api.client.post(url, json={"bizStep": "receiving"}, headers=buyer), 201)
    assert received["shipmentStatus"] == "received"
    # Going back is refused.
    late = api.client.post(url, json={"bizStep": "shipping"}, headers=carrier)
    assert late.status_code == 409
    events = ok(api.client.get(url, headers=buyer))
    assert [e["bizStep"] for e in events] == ["packing", "shipping", "arriving", "receiving"]
    # The platform packed the items into the shipment's container as they shipped.
    container = ok(api.client.get(f"/shipments/{world.shipment_id}", headers=buyer))["container"]
    assert CONTAINER_EPC.fullmatch(container)
    packing, shipping = events[0]["event"], events[1]["event"]
    assert {k: packing[k] for k in ("type", "action", "parentID", "childEPCs", "readPoint")} == {
        "type": "AggregationEvent",
        "action": "ADD",
        "parentID": container,
        "childEPCs": shipping["epcList"],
        "readPoint": {"id": dock},
    }
    assert packing["eventTime"] == shipping["eventTime"]
    assert packing["bizTransactionList"] == shipping["bizTransactionList"]
    with Session(api.engine) as session:
        recorders = session.execute(
            select(Event.biz_step, Event.recorded_by).where(Event.biz_step.in_(_PACKED_SHIPPED))
        ).all()
        carrier_pk = session.scalar(
            select(Shipment.carrier_principal_id).where(Shipment.shipment_id == world.shipment_id)
        )
    assert sorted(recorders) == [("packing", carrier_pk), ("shipping", carrier_pk)]
    assert shipping["epcList"] == [
        "urn:epc:id:sgtin:0614141.012345.A1",
        "urn:epc:id:sgtin:0614141.012345.A2",
    ]
    assert shipping["readPoint"] == {"id": dock}
    assert shipping["bizTransactionList"] == [
        {"type": "bol", "bizTransaction": f"urn:chaintrace:shipment:{world.shipment_id}"}
    ]
    assert events[2]["event"]["ct:geo"] == "geo:52.5200000,13.4050000"


def _soon() -> datetime:
    """A whole second just after now (after the items' commissioning, within the clock skew)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)


def _full_event(when: datetime, **overrides: Any) -> dict[str, Any]:
    event = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": when.astimezone(timezone(timedelta(hours=1))).isoformat("T", "milliseconds"),
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:0614141.012345.A1"],
        "action": "OBSERVE",
        "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00001.0"},
    }
    event.update(overrides)
    return event


def test_full_epcis_events_are_stored_exactly_as_sent(world: World) -> None:
    api = world.api
    url = f"/shipments/{world.shipment_id}/events"
    when = _soon()
    event = _full_event(when)
    recorded = ok(api.client.post(url, json=event, headers=auth(world.carrier_key)), 201)
    assert recorded["bizStep"] == "shipping"
    assert recorded["eventTime"] == when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    [packing, stored] = ok(api.client.get(url, headers=auth(world.carrier_key)))
    assert stored["event"] == event
    # Only A1 was named: A1 was packed and shipped, A2 was not.
    assert packing["event"]["childEPCs"] == ["urn:epc:id:sgtin:0614141.012345.A1"]
    a1 = ok(api.client.get(f"/01/{world.gtin}/21/A1", params={"format": "json"}))
    a2 = ok(api.client.get(f"/01/{world.gtin}/21/A2", params={"format": "json"}))
    assert [e["bizStep"] for e in a1["history"]] == ["commissioning", "packing", "shipping"]
    assert [e["bizStep"] for e in a2["history"]] == ["commissioning"]
    # The same event twice is one event.
    duplicate = api.client.post(url, json=event, headers=auth(world.carrier_key))
    assert duplicate.status_code == 409 and duplicate.json()["eventId"] == recorded["id"]


def test_full_epcis_events_must_name_only_the_shipments_items(world: World) -> None:
    api = world.api
    url = f"/shipments/{world.shipment_id}/events"
    foreign = _full_event(_soon(), epcList=["urn:epc:id:sgtin:0614141.012345.ZZ"])
    response = api.client.post(url, json=foreign, headers=auth(world.carrier_key))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "epcList", 0]
    other_step = _full_event(_soon(), bizStep="loading")
    assert api.client.post(url, json=other_step, headers=auth(world.carrier_key)).status_code == 403
    not_object = _full_event(_soon(), type="TransactionEvent")
    response = api.client.post(url, json=not_object, headers=auth(world.carrier_key))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "type"]


def test_unknown_shipment_is_404(world: World) -> None:
    missing = "0x" + "ab" * 32
    for method, path, body in [
        ("get", f"/shipments/{missing}", None),
        ("post", f"/shipments/{missing}/events", {"bizStep": "shipping"}),
        ("get", "/shipments/not-an-id", None),
    ]:
        response = world.api.client.request(
            method, path, json=body, headers=auth(world.carrier_key)
        )
        assert response.status_code == 404, path
        assert "no shipment" in response.json()["detail"]


def test_a_token_shipment_is_approved_then_funded(
    world: World,
    token_artifacts: dict[str, ContractArtifact],
) -> None:
    chain = world.api.chain
    assert chain is not None
    token = _deploy(chain, token_artifacts["TestToken"], ["string", "string"], ["Euro", "EURX"])
    amount = 250_000_003
    body = {
        "carrier": world.api.principal_id(world.carrier_key),
        "payee": chain.payee.address,
        "items": [{"gtin": world.gtin, "serial": world.spare[0]}],
        "terms": world.api.terms(amount, token=token.address),
    }
    refused = world.api.client.post("/shipments", json=body, headers=auth(world.buyer_key))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "terms", "token"]
    assert refused.json()["detail"][0]["msg"] == "token not on the allowlist"

    chain.escrow.send_set_token_allowed(chain.admin, token.address, True)
    created = ok(world.api.client.post("/shipments", json=body, headers=auth(world.buyer_key)), 201)
    assert created["typedData"]["message"]["token"] == token.address
    tokened = replace(world, shipment_id=created["shipmentId"], typed_data=created["typedData"])
    approve_custody(world.api, world.brand_key, created["shipmentId"])
    _sign_terms(tokened, chain.buyer, world.buyer_key)
    _sign_terms(tokened, chain.payee, world.carrier_key)
    sender_for(chain.w3, chain.deployer).send(
        token.address, token.encode_abi("mint", [chain.buyer.address, amount])
    )
    url = f"/shipments/{tokened.shipment_id}/funding-tx"

    # Step 1: only the approval, since fund() cannot run before the escrow may take the tokens.
    step1 = ok(world.api.client.get(url, headers=auth(world.buyer_key)))
    assert step1["tx"] is None and "approve" in step1["description"]
    approval = step1["approval"]["tx"]
    assert (approval["from"], approval["to"], approval["value"]) == (
        chain.buyer.address,
        token.address,
        "0x0",
    )
    _send(chain, approval)
    assert token.functions.allowance(chain.buyer.address, chain.escrow.address).call() == amount

    # Step 2: the fund transaction, moving no ETH.
    step2 = ok(world.api.client.get(url, headers=auth(world.buyer_key)))
    assert step2["approval"] is None and step2["tx"]["value"] == "0x0"
    assert step2["tx"]["to"] == chain.escrow.address
    _send(chain, step2["tx"])
    view = chain.escrow.shipment(tokened.shipment_id)
    assert (view.state, view.token, view.amount) == (ShipmentState.FUNDED, token.address, amount)
    assert token.functions.balanceOf(chain.escrow.address).call() == amount


def _send(chain: ChainEnv, tx: dict[str, Any]) -> None:
    signed = chain.buyer.sign_transaction(tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1


def test_an_item_is_in_one_open_shipment_and_must_be_commissioned(world: World) -> None:
    api = world.api
    assert api.chain is not None
    base: dict[str, Any] = {
        "carrier": api.principal_id(world.carrier_key),
        "payee": api.chain.payee.address,
        "devices": [world.device.address],
        "terms": api.terms(),
    }
    again = {**base, "items": [{"gtin": world.gtin, "serial": world.serials[0]}]}
    r = api.client.post("/shipments", json=again, headers=auth(world.buyer_key))
    assert r.status_code == 409 and "already in another open shipment" in r.json()["detail"]
    spare = {**base, "items": [{"gtin": world.gtin, "serial": world.spare[0]}]}
    assert (
        api.client.post("/shipments", json=spare, headers=auth(world.buyer_key)).status_code == 201
    )
    with Session(api.engine) as session:
        item = find_item(session, normalize_gtin(world.gtin), world.spare[1])
        assert item is not None
        item.commission_event_id = None  # as if the brand had never commissioned it
        session.commit()
    fresh = {**base, "items": [{"gtin": world.gtin, "serial": world.spare[1]}]}
    r = api.client.post("/shipments", json=fresh, headers=auth(world.buyer_key))
    assert r.status_code == 409 and "not commissioned" in r.json()["detail"]
