"""Escrow v2 shipments through the API: buyer, payee and carrier sign; devicesRoot from the
carrier's devices; fundBy; the hijack of issue 11 replayed (a buyer naming another carrier and
its loggers, the payee a second wallet of the buyer)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain import solidity_errors as se
from chain.clients import ShipmentStateV2
from core.device_set import devices_root
from core.eip712 import TermsV2
from tests.api.flows import World, auth, follow, ok, sign_typed
from tests.api.shipments_v2_support import FENCE, _body, _chain, _create, _escrow, _funding_tx


def _sign(
    world: World, sid: str, typed: dict[str, Any], account: LocalAccount, key: str
) -> dict[str, Any]:
    body = {"signature": sign_typed(account, typed)}
    url = f"/shipments/{sid}/signatures"
    return dict(ok(world.api.client.post(url, json=body, headers=auth(key))))


def test_v2_shipment_signed_funded_and_followed(world: World) -> None:
    chain = _chain(world)
    escrow = _escrow(world)
    created = _create(world, _body(world, chain.payee.address, world.spare[:1]))
    sid, typed = created["shipmentId"], created["typedData"]
    assert typed["domain"] == escrow.eip712_domain()  # version "2", the v2 escrow
    message = typed["message"]
    assert message["carrier"] == chain.payee.address  # the carrier principal's wallet
    assert message["devicesRoot"] == "0x" + devices_root([world.device.address]).hex()
    assert message["oracle"] == chain.oracle.address

    first = _sign(world, sid, typed, chain.buyer, world.buyer_key)
    assert first["signatures"] == {"buyer": True, "payee": False}  # carrier = payee: one
    second = _sign(world, sid, typed, chain.payee, world.carrier_key)
    assert second["role"] == "payee" and second["readyToFund"]
    tx = ok(_funding_tx(world, sid))["tx"]
    signed = chain.buyer.sign_transaction(tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1 and tx["to"] == escrow.address
    assert escrow.shipment(sid).state is ShipmentStateV2.FUNDED
    assert follow(world.api).funded == [sid]
    shown = ok(world.api.client.get(f"/shipments/{sid}", headers=auth(world.buyer_key)))
    assert (shown["escrowVersion"], shown["status"]) == (2, "funded")
    assert shown["escrow"]["state"] == "funded" and shown["escrow"]["termsHashMatches"]
    terms = TermsV2.from_json(shown["terms"])
    assert shown["termsHash"] == "0x" + escrow.hash_terms(terms).hex()


def test_the_hijack_needs_the_carriers_signature(world: World) -> None:
    """A buyer names the carrier and its logger, the payee a second wallet of its own."""
    chain = _chain(world)
    second_wallet = Account.create()
    created = _create(world, _body(world, second_wallet.address, world.spare[:1]))
    sid, typed = created["shipmentId"], created["typedData"]
    _sign(world, sid, typed, chain.buyer, world.buyer_key)
    both = _sign(world, sid, typed, second_wallet, world.buyer_key)
    assert both["signatures"] == {"buyer": True, "payee": True, "carrier": False}
    assert not both["readyToFund"]
    refused = _funding_tx(world, sid)
    assert refused.status_code == 409 and "carrier" in refused.json()["detail"]
    # A stranger's key is none of the parties.
    stranger = world.api.client.post(
        f"/shipments/{sid}/signatures",
        json={"signature": sign_typed(chain.stranger, typed)},
        headers=auth(world.buyer_key),
    )
    assert stranger.status_code == 422 and "carrier" in stranger.json()["detail"][0]["msg"]
    # Straight to the chain without the carrier's signature: the escrow refuses it.
    escrow = _escrow(world)
    terms = TermsV2.from_json(
        ok(world.api.client.get(f"/shipments/{sid}", headers=auth(world.buyer_key)))["terms"]
    )
    buyer_sig = bytes.fromhex(sign_typed(chain.buyer, typed)[2:])
    payee_sig = bytes.fromhex(sign_typed(second_wallet, typed)[2:])
    with pytest.raises(se.EscrowV2InvalidSignature) as info:
        escrow.send_fund(chain.buyer, terms, buyer_sig, payee_sig, buyer_sig)
    assert info.value.args_dict == {"expectedSigner": chain.payee.address}


def test_unfunded_past_fund_by_holds_no_items_and_cannot_be_funded(world: World) -> None:
    chain = _chain(world)
    serial = world.spare[:1]
    fund_by = int(time.time()) + 2
    created = _create(world, _body(world, chain.payee.address, serial, fundBy=fund_by))
    sid, typed = created["shipmentId"], created["typedData"]
    held = world.api.client.post(
        "/shipments", json=_body(world, chain.payee.address, serial), headers=auth(world.buyer_key)
    )
    assert held.status_code == 409 and sid not in held.text  # never names the other shipment
    _sign(world, sid, typed, chain.buyer, world.buyer_key)
    _sign(world, sid, typed, chain.payee, world.carrier_key)
    while int(time.time()) <= fund_by:  # the wall clock the API judges by passes fundBy
        time.sleep(0.2)
    closed = _funding_tx(world, sid)
    assert closed.status_code == 409 and "fundBy" in closed.json()["detail"]
    _create(world, _body(world, chain.payee.address, serial))  # the items are free again


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"destinationGeofence": None}, "destinationGeofence"),
        ({"destinationGeofence": {**FENCE, "radiusM": 60_000}}, "radiusM"),
        ({"devices": []}, "devices"),
        ({"escrowV2": {"oracle": "0x" + "11" * 20}}, "oracle"),
        ({"escrowV2": {"fundBy": 1}}, "fundBy"),
        ({"terms": {"arbiter": "0x" + "00" * 20}}, "autoAcceptAfter"),
        ({"terms": {"refundGrace": 3_600}}, "refundGrace"),
        ({"terms": {"disputeTimeout": 0}, "escrowV2": {"autoAcceptAfter": 0}}, "disputeTimeout"),
    ],
)
def test_v2_terms_fund_would_refuse_are_refused_naming_the_field(
    world: World, change: dict[str, Any], field: str
) -> None:
    chain = _chain(world)
    body = _body(world, chain.payee.address, world.spare[:1])
    for key, value in change.items():
        if (
            isinstance(value, dict)
            and isinstance(body.get(key), dict)
            and key != "destinationGeofence"
        ):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    refused = world.api.client.post("/shipments", json=body, headers=auth(world.buyer_key))
    assert refused.status_code == 422, refused.text
    assert any(field in loc for d in refused.json()["detail"] for loc in map(str, d["loc"]))
