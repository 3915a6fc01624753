"""Write rights (issue 15): a commissioning captured through EPCIS is the brand's, becomes a draft
for it to sign, and carries lot and expiry (ILMD) onto the items; the resolver refuses a link whose
lot is not the item's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from core.gs1 import sgtin_urn
from store.db import session_factory
from store.models import AnchorBatch, CommissioningDraft, Event, Item
from tests.api.flows import PREFIX, World, auth, ok, sign_typed
from tests.api.shipment_event_via import document

_JSON = {"Accept": "application/json"}


def _commissioning(world: World, *serials: str, **ilmd: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": "2026-07-22T06:45:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": [sgtin_urn(world.gtin, s, len(PREFIX)) for s in serials],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
    }
    if ilmd:
        event["ilmd"] = {f"cbvmda:{k}": v for k, v in ilmd.items()}
    return event


def _count(world: World, model: Any) -> int:
    with session_factory(world.api.engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _capture(world: World, key: str, *events: dict[str, Any], **headers: str) -> Any:
    client = world.api.client
    return client.post("/epcis/capture", json=document(*events), headers={**auth(key), **headers})


def test_the_brand_captures_a_commissioning_as_a_draft_with_lot_and_expiry(world: World) -> None:
    api = world.api
    assert api.chain is not None
    events, batches = _count(world, Event), _count(world, AnchorBatch)
    event = _commissioning(world, "N1", "N2", lotNumber="L-42", itemExpirationDate="2027-03-31")
    answer = _capture(world, world.brand_key, event)
    assert answer.status_code == 202, answer.text
    assert ok(api.client.get(answer.headers["Location"], headers=auth(world.brand_key)))["success"]
    # A draft, not an event nor a platform batch: nothing is recorded before the brand signs.
    assert (_count(world, Event), _count(world, AnchorBatch)) == (events, batches)
    [draft] = ok(api.client.get("/commissionings", headers=auth(world.brand_key)))
    assert (draft["gtin"], draft["lot"], draft["expiry"]) == (
        "0" + world.gtin,
        "L-42",
        "2027-03-31",
    )
    assert [e["serial"] for e in draft["events"]] == ["N1", "N2"]
    assert ok(api.client.get("/commissionings", headers=auth(world.carrier_key)), 403)
    signature = {"signature": sign_typed(api.chain.brand, draft["typedData"])}
    url = f"/commissionings/{draft['id']}/signature"
    signed = ok(api.client.post(url, json=signature, headers=auth(world.brand_key)))
    assert {(i["serial"], i["lot"], i["expiry"]) for i in signed["items"]} == {
        ("N1", "L-42", "2027-03-31"),
        ("N2", "L-42", "2027-03-31"),
    }
    with session_factory(api.engine)() as session:
        item = session.scalars(select(Item).where(Item.serial == "N1")).one()
        assert (item.lot, item.expiry) == ("L-42", dt.date(2027, 3, 31))
        stored = session.get(Event, item.commission_event_id)
        assert stored is not None and stored.recorded_by == api.principal_id(world.brand_key)
        assert '"ilmd":{"cbvmda:lotNumber":"L-42","cbvmda:itemExpirationDate":"2027-03-31"}' in (
            stored.event_json
        )
        batch = session.scalars(select(AnchorBatch).order_by(AnchorBatch.id.desc())).first()
        assert batch is not None and batch.brand_address == api.chain.brand.address
    assert ok(api.client.get("/commissionings", headers=auth(world.brand_key))) == []


def test_one_captured_commissioning_answers_202_with_its_draft(world: World) -> None:
    api = world.api
    event = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]}
    event.update(_commissioning(world, "N3", lotNumber="L-1"))
    answer = api.client.post("/epcis/events", json=event, headers=auth(world.brand_key))
    assert answer.status_code == 202, answer.text
    draft = answer.json()
    assert answer.headers["Location"] == f"/commissionings/{draft['id']}"
    assert draft["lot"] == "L-1" and draft["status"] == "awaiting_signature"
    fetched = ok(api.client.get(answer.headers["Location"], headers=auth(world.brand_key)))
    assert fetched["root"] == draft["root"]
    again = api.client.post("/epcis/events", json=event, headers=auth(world.brand_key))
    assert again.status_code == 202  # another draft: only signing one commissions the items
    taken = _commissioning(world, world.serials[0])
    refused = api.client.post("/epcis/events", json=taken, headers=auth(world.brand_key))
    assert refused.status_code == 409 and "already commissioned" in refused.json()["detail"]


def test_anyone_but_the_prefixs_brand_gets_one_answer_whether_the_item_exists_or_not(
    world: World,
) -> None:
    api = world.api
    drafts = _count(world, CommissioningDraft)
    answers = []
    for key in (world.carrier_key, world.buyer_key):
        for serial in (world.serials[0], "NEVER"):  # commissioned, and unknown
            answer = _capture(world, key, _commissioning(world, serial))
            assert answer.status_code == 422, answer.text
            [error] = answer.json()["detail"]
            answers.append((tuple(error["loc"]), error["msg"]))
    assert len(set(answers)) == 1, answers
    assert answers[0][0] == ("body", "epcisBody", "eventList", 0, "epcList", 0)
    assert "only from the brand holding the EPC's GS1 company prefix" in answers[0][1]
    # A prefix no brand registered, even from a brand: the same answer.
    foreign = {**_commissioning(world, "X1"), "epcList": ["urn:epc:id:sgtin:0999999.012345.X1"]}
    answer = _capture(world, world.brand_key, foreign)
    assert answer.status_code == 422 and answer.json()["detail"][0]["msg"] == answers[0][1]
    # Under proceed the refusal is listed, and the valid ones still draft.
    mixed = _capture(
        world,
        world.carrier_key,
        _commissioning(world, "NEVER"),
        **{"GS1-Capture-Error-Behaviour": "proceed"},
    )
    job = ok(api.client.get(mixed.headers["Location"], headers=auth(world.carrier_key)))
    assert [(e["eventIndex"], e["pointer"]) for e in job["errors"]] == [(0, "/epcList/0")]
    assert _count(world, CommissioningDraft) == drafts
    bad_lot = _commissioning(world, "N9", lotNumber="x" * 21, itemExpirationDate="31.03.2027")
    answer = _capture(world, world.brand_key, bad_lot)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-2:] == ["ilmd", "cbvmda:lotNumber"]


def test_products_items_take_lot_and_expiry_and_the_resolver_checks_the_lot(world: World) -> None:
    api = world.api
    assert api.chain is not None
    body = {"serials": ["LOTTED"], "lot": "B7", "expiry": "2027-01-15"}
    url = f"/products/{world.gtin}/items"
    draft = ok(api.client.post(url, json=body, headers=auth(world.brand_key)), 201)
    assert (draft["lot"], draft["expiry"]) == ("B7", "2027-01-15")
    signature = {"signature": sign_typed(api.chain.brand, draft["typedData"])}
    sign_url = f"/commissionings/{draft['id']}/signature"
    ok(api.client.post(sign_url, json=signature, headers=auth(world.brand_key)))
    gtin = world.gtin
    same = ok(api.client.get(f"/01/{gtin}/10/B7/21/LOTTED", headers=_JSON))
    assert (same["item"]["lot"], same["item"]["expiry"]) == ("B7", "2027-01-15")
    assert ok(api.client.get(f"/01/{gtin}/21/LOTTED", headers=_JSON))["item"]["lot"] == "B7"
    other = api.client.get(f"/01/{gtin}/10/B8/21/LOTTED", headers=_JSON)
    missing = api.client.get(f"/01/{gtin}/10/B8/21/NOSUCH", headers=_JSON)
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace("LOTTED", "?") == missing.json()["detail"].replace(
        "NOSUCH", "?"
    )
    # The same answer but for the code scanned (each names its own serial).
    same_but_code = [
        {**r.json()["authentic"], "code": None, "report": None} for r in (other, missing)
    ]
    assert same_but_code[0] == same_but_code[1]
    page = api.client.get(f"/01/{gtin}/10/B8/21/LOTTED")
    assert page.status_code == 404 and "B7" not in page.text
    # An item commissioned without a lot keeps today's behaviour: any lot in the link resolves.
    plain = ok(api.client.get(f"/01/{gtin}/10/ANY/21/{world.serials[0]}", headers=_JSON))
    assert "lot" not in plain["item"]
