"""Shipment event times (issue 11): each step once, not backdated, not in the future, in order.

The shipping event opens the settlement window and the receiving closes it, so the carrier must
not move the start by adding an earlier shipping event, and neither party may date its step
outside [now - EVENT_MAX_BACKDATE_SECONDS, now + 60 s]. Also: a 409 never names another party's
objects (the item lock, an event stored under another shipment).

Write rights (issue 15): every case runs through POST /shipments/{id}/events, POST /epcis/events
and POST /epcis/capture alike (tests/api/shipment_event_via.py), the checks being one function.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.settings import ApiSettings
from tests.api.conftest import _bootstrap_admin
from tests.api.flows import PUBLIC_BASE_URL, Api, World, auth, build_world, ok
from tests.api.shipment_event_via import (
    SHIPMENTS,
    VIAS,
    Answer,
    ViaWorld,
    as_epcis,
    post_event,
)
from tests.utils.anvil import ChainEnv

SKU = "urn:epc:id:sgtin:0614141.012345."


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


@pytest.fixture(params=VIAS)
def world(api: Api, request: pytest.FixtureRequest) -> ViaWorld:
    """The standard world, its shipment events posted through each route in turn."""
    return ViaWorld(**build_world(api).__dict__, via=request.param)


def _post(world: World, key: str, body: dict[str, Any]) -> Answer:
    return post_event(world, key, body)


def _step(world: World, key: str, biz_step: str, at: datetime) -> Answer:
    return _post(world, key, {"bizStep": biz_step, "eventTime": _iso(at)})


def _full(at: datetime, biz_step: str = "shipping", **overrides: Any) -> dict[str, Any]:
    event = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": _iso(at),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [SKU + "A1"],
        "action": "OBSERVE",
        "bizStep": biz_step,  # the CBV 2.0 bare form, which GS1's EPCIS 2.0 schema takes
        "disposition": "in_transit",
    }
    event.update(overrides)
    return event


def _time_error(response: Answer) -> str:
    """The message of a 422 that names eventTime."""
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "eventTime"], error
    return str(error["msg"])


def _steps(world: World) -> list[tuple[str, str]]:
    url = f"/shipments/{world.shipment_id}/events"
    events = ok(world.api.client.get(url, headers=auth(world.buyer_key)))
    return [(e["bizStep"], e["eventTime"]) for e in events]


def test_a_second_shipping_event_is_refused_earlier_or_later(world: World) -> None:
    carrier = world.carrier_key
    first = ok(_step(world, carrier, "shipping", _ago(600)), 201)
    # An earlier one would move the window's start back (the earliest used to win).
    for again in (
        {"bizStep": "shipping", "eventTime": _iso(_ago(1200))},
        {"bizStep": "shipping", "eventTime": _iso(_ago(60))},
        {"bizStep": "shipping"},
        _full(_ago(1800)),
    ):
        refused = _post(world, carrier, again)
        assert refused.status_code == 409, (again, refused.text)
        detail = refused.json()["detail"]
        assert "already has its shipping event" in detail and "once per shipment" in detail
        assert "eventId" not in refused.json()
    # The platform packed the items into the container as they shipped, at the same time.
    assert _steps(world) == [("packing", first["eventTime"]), ("shipping", first["eventTime"])]
    # The very same event again is the usual duplicate, naming the caller's own event; the
    # EPCIS capture answers it as the binding's repeat (like a first capture, nothing new).
    same = _post(world, carrier, {"bizStep": "shipping", "eventTime": first["eventTime"]})
    if world.via == SHIPMENTS:
        assert same.status_code == 409 and same.json()["eventId"] == first["id"]
    else:
        assert same.status_code == 201 and same.json()["id"] == first["id"]
    # The platform packed the items into the container as they shipped, at the same time.
    assert _steps(world) == [("packing", first["eventTime"]), ("shipping", first["eventTime"])]


def test_arriving_and_receiving_are_recorded_once(world: World) -> None:
    ok(_step(world, world.carrier_key, "shipping", _ago(900)), 201)
    ok(_step(world, world.carrier_key, "arriving", _ago(600)), 201)
    twice = _step(world, world.carrier_key, "arriving", _ago(300))
    assert twice.status_code == 409 and "already has its arriving event" in twice.json()["detail"]
    received = ok(_step(world, world.buyer_key, "receiving", _ago(120)), 201)
    assert received["shipmentStatus"] == "received"
    for at in (_ago(60), _ago(180)):
        again = _step(world, world.buyer_key, "receiving", at)
        assert again.status_code == 409
        assert "already has its receiving event" in again.json()["detail"]
    assert [step for step, _ in _steps(world)] == ["packing", "shipping", "arriving", "receiving"]


def test_backdating_beyond_the_limit_is_refused(world: World) -> None:
    too_old = _ago(3600 + 120)
    message = _time_error(_step(world, world.carrier_key, "shipping", too_old))
    assert "3600 s in the past" in message and "EVENT_MAX_BACKDATE_SECONDS" in message
    _time_error(_post(world, world.carrier_key, _full(too_old)))
    # Receiving too (it closes the window): shipping now, receiving dated two hours back.
    ok(_step(world, world.carrier_key, "shipping", _ago(30)), 201)
    _time_error(_step(world, world.buyer_key, "receiving", _ago(7200)))
    assert [step for step, _ in _steps(world)] == ["packing", "shipping"]


def test_future_times_are_refused_beyond_the_clock_skew(world: World) -> None:
    ahead = datetime.now(UTC) + timedelta(seconds=180)
    message = _time_error(_step(world, world.carrier_key, "shipping", ahead))
    assert "must not be in the future" in message and "60 s of clock skew" in message
    _time_error(_post(world, world.carrier_key, _full(ahead)))
    assert _steps(world) == []
    # Within the skew: accepted (the sender's clock may run a few seconds fast).
    ok(_step(world, world.carrier_key, "shipping", datetime.now(UTC) + timedelta(seconds=20)), 201)


def test_receiving_and_arriving_are_not_before_shipping(world: World) -> None:
    shipped = ok(_step(world, world.carrier_key, "shipping", _ago(1200)), 201)
    message = _time_error(_step(world, world.buyer_key, "receiving", _ago(1800)))
    assert "before the shipment's shipping event" in message
    assert shipped["eventTime"] in message
    _time_error(_post(world, world.buyer_key, _full(_ago(1500), "receiving")))
    _time_error(_step(world, world.carrier_key, "arriving", _ago(1500)))
    # At the shipping time or after: accepted.
    ok(_step(world, world.carrier_key, "arriving", _ago(600)), 201)
    same_time = {"bizStep": "receiving", "eventTime": shipped["eventTime"]}
    received = ok(_post(world, world.buyer_key, same_time), 201)
    assert received["eventTime"] == shipped["eventTime"]


def test_times_within_the_limits_are_accepted(world: World) -> None:
    shipped = ok(_step(world, world.carrier_key, "shipping", _ago(3600 - 120)), 201)
    assert shipped["shipmentStatus"] == "shipping"
    ok(_post(world, world.carrier_key, _full(_ago(1800), "arriving")), 201)
    received = ok(_post(world, world.buyer_key, {"bizStep": "receiving"}), 201)
    assert received["shipmentStatus"] == "received"
    assert [step for step, _ in _steps(world)] == ["packing", "shipping", "arriving", "receiving"]


@pytest.fixture
def api_2h(api_engine: Engine, env: ChainEnv, deployments_file: Path) -> Iterator[Api]:
    """The app with EVENT_MAX_BACKDATE_SECONDS=7200."""
    settings = ApiSettings(
        database_url=str(api_engine.url.render_as_string(hide_password=False)),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=deployments_file,
        event_max_backdate_seconds=7200,
    )
    app = create_app(settings, engine=api_engine, w3=env.w3)
    with TestClient(app) as client:
        yield Api(client, _bootstrap_admin(api_engine), env, api_engine)


@pytest.mark.parametrize("via", VIAS)
def test_the_backdate_limit_is_the_setting(api_2h: Api, via: str) -> None:
    world = ViaWorld(**build_world(api_2h).__dict__, via=via)
    message = _time_error(_step(world, world.carrier_key, "shipping", _ago(7200 + 120)))
    assert "7200 s in the past" in message
    ok(_step(world, world.carrier_key, "shipping", _ago(5400)), 201)


def test_an_error_declaration_corrects_only_its_senders_event(world: World) -> None:
    when = _ago(600)
    ok(_post(world, world.carrier_key, _full(when)), 201)
    declared = _full(
        when, errorDeclaration={"declarationTime": _iso(_ago(0)), "reason": "incorrect_data"}
    )
    # Not the consignee's to correct (and the consignee does not record shipping at all).
    assert _post(world, world.buyer_key, declared).status_code == 403
    corrected = ok(_post(world, world.carrier_key, declared), 201)
    assert corrected["kind"] == 1 and corrected["shipmentStatus"] == "shipping"
    # A declaration of an event never recorded here is no way around the rules.
    ghost = _full(_ago(7200), errorDeclaration={"declarationTime": _iso(_ago(0))})
    refused = _post(world, world.carrier_key, ghost)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "errorDeclaration"]
    # The kind-0 shipping event stays the one: no second one after the correction either.
    assert _post(world, world.carrier_key, _full(_ago(300))).status_code == 409


def test_an_event_names_only_its_own_shipment(world: World) -> None:
    other = {"bizTransaction": "urn:chaintrace:shipment:0x" + "ab" * 32}
    own = {"bizTransaction": f"urn:chaintrace:shipment:{world.shipment_id}"}
    response = _post(world, world.carrier_key, _full(_ago(60), bizTransactionList=[own, other]))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "bizTransactionList", 1]
    alone = _post(world, world.carrier_key, _full(_ago(60), bizTransactionList=[other]))
    if world.via == SHIPMENTS:
        assert alone.status_code == 422
        assert alone.json()["detail"][0]["loc"] == ["body", "bizTransactionList", 0]
    else:  # captured, the event is recorded on the shipment it names: none of the caller's
        assert alone.status_code == 404 and "among yours" in alone.json()["detail"]
    ok(_post(world, world.carrier_key, _full(_ago(60), bizTransactionList=[own])), 201)


@pytest.mark.parametrize(
    "scheme", ["URN:CHAINTRACE:SHIPMENT:", "urn:ChainTrace:shipment:", "Urn:chaintrace:Shipment:"]
)
def test_naming_another_shipment_is_refused_whatever_the_case_of_the_urn(
    world: World, scheme: str
) -> None:
    # RFC 8141: the "urn" scheme and the NID are case-insensitive, and the NSS here is a hex id.
    other = {"bizTransaction": scheme + "0x" + "AB" * 32}
    own = {"bizTransaction": scheme + world.shipment_id.upper().replace("0X", "0x")}
    response = _post(world, world.carrier_key, _full(_ago(60), bizTransactionList=[own, other]))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "bizTransactionList", 1]
    ok(_post(world, world.carrier_key, _full(_ago(60), bizTransactionList=[own])), 201)


def _other_buyer(api: Api) -> str:
    return api.principal("buyer", Account.create().address, "Rival Shop")


def test_the_item_lock_409_names_no_other_shipment(world: World) -> None:
    api = world.api
    assert api.chain is not None
    rival = _other_buyer(api)
    body = {
        "carrier": api.principal_id(world.other_carrier_key),
        "payee": api.chain.stranger.address,
        "items": [{"gtin": world.gtin, "serial": world.serials[0]}],
        "terms": api.terms(),
    }
    refused = api.client.post("/shipments", json=body, headers=auth(rival))
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "already in another open shipment" in detail
    sid = world.shipment_id.lower()
    assert sid not in detail.lower() and sid[2:] not in detail.lower()
    buyer_id = str(api.principal_id(world.buyer_key))
    assert "Corner Shop" not in detail and buyer_id not in detail.split("/")[-1]


def test_an_event_stored_under_another_shipment_is_not_named(world: World) -> None:
    """The same full event on a later shipment of the same item: 409 without the first's id."""
    api = world.api
    assert api.chain is not None
    arrived = _full(_ago(300), "arriving")
    first = ok(_post(world, world.carrier_key, arrived), 201)
    ok(_step(world, world.buyer_key, "receiving", _ago(60)), 201)  # the item is free again
    body = {
        "carrier": api.principal_id(world.other_carrier_key),
        "payee": api.chain.stranger.address,
        "items": [{"gtin": world.gtin, "serial": world.serials[0]}],
        "terms": api.terms(),
    }
    created = ok(api.client.post("/shipments", json=body, headers=auth(world.buyer_key)), 201)
    later = dataclasses.replace(world, shipment_id=created["shipmentId"])
    if world.via == SHIPMENTS:
        copied = _post(later, world.other_carrier_key, arrived)
        assert copied.status_code == 409, copied.text
    else:  # a captured event names its shipment: the very same one names the first
        copied = _post(later, world.other_carrier_key, as_epcis(world, arrived))
        assert copied.status_code == 404, copied.text
    assert "eventId" not in copied.json()
    assert f"event {first['id']}" not in copied.json()["detail"]
    if world.via == SHIPMENTS:
        assert str(first["id"]) not in copied.json()["detail"]
