"""Every verdict state of core.verdict through the API (tests/api/verdict_states.py), with its
reasons as data; a recall's write rights and scope (docs/recalls.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api import verdict_states as states
from tests.api.flows import (
    CONFIRMATIONS,
    OTHER_PREFIX,
    Api,
    auth,
    follow,
    gtin13,
    mine,
    ok,
    sign_typed,
)


def _authentic(api: Api, item: states.StateItem) -> dict[str, Any]:
    answer = api.client.get(item.path, params={"format": "json"})
    assert answer.status_code in (200, 404), answer.text
    return dict(answer.json()["authentic"])


def _iso_seconds(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_every_state_answers_its_verdict_and_reasons(api: Api) -> None:
    made = states.every_state(api)
    assert sorted(made) == sorted(
        [
            "genuine",
            "recalled",
            "brand_revoked",
            "brand_compromised",
            "not_brand_signed",
            "not_recognised",
            "unregistered",
            "not_yet_confirmed",
        ]
    )
    seen = {state: _authentic(api, item) for state, item in made.items()}
    for state, view in seen.items():
        assert view["verdict"] == state, (state, view)
        for field in ("since", "recall", "confirmationsLeft"):
            assert field in view
    assert seen["genuine"]["since"] is None and seen["genuine"]["recall"] is None
    assert seen["genuine"]["confirmationsLeft"] is None
    recall = seen["recalled"]["recall"]
    assert recall["scope"] == "item" and recall["lot"] is None
    assert seen["recalled"]["since"] == recall["recalledAt"]
    assert datetime.fromisoformat(recall["recalledAt"]).tzinfo == UTC
    assert seen["recalled"]["confirmedBy"] is not None  # the brand's word still holds
    assert seen["not_yet_confirmed"]["confirmationsLeft"] == CONFIRMATIONS
    assert seen["not_yet_confirmed"]["status"] == "anchored"
    chain = api.chain
    assert chain is not None
    anchor = states._v2(api)
    revoked_wallet = states.wallet_of_prefix(states.REVOKED_BRAND[1]).address
    assert _iso_seconds(seen["brand_revoked"]["since"]) == anchor.brand_revoked_at(revoked_wallet)
    stolen = states.wallet_of_prefix(states.COMPROMISED_BRAND[1]).address
    assert _iso_seconds(seen["brand_compromised"]["since"]) == anchor.compromised_since(stolen)
    for state in ("not_brand_signed", "not_recognised", "unregistered"):
        assert seen[state]["since"] is None and seen[state]["recall"] is None
    # One more block: one confirmation fewer still to come.
    mine(chain.w3, 1)
    follow(api)
    assert _authentic(api, made["not_yet_confirmed"])["confirmationsLeft"] == CONFIRMATIONS - 1


def _capture(api: Api, key: str, event: dict[str, Any]) -> Any:
    return api.client.post("/epcis/events", json=event, headers=auth(key))


def test_only_the_brand_records_a_recall_and_the_refusal_says_nothing_of_existence(
    api: Api,
) -> None:
    item = states.genuine(api, "W1")
    brand_key, _, _ = states.brand(api)
    carrier = api.principal("carrier", None, "Polar Freight")
    buyer = api.principal("buyer", None, "Corner Shop")
    other_brand, _, _ = states.brand(api, *states.COMPROMISED_BRAND)
    existing = states.item_epc(item.gtin, item.serial)
    missing = states.item_epc(item.gtin, "NOSUCH9")
    lot = f"urn:epc:class:lgtin:{states.PREFIX}.077777.L1"  # the GTIN's lot class
    for key in (carrier, buyer, other_brand):
        answers = [
            _capture(api, key, states.recall_event([existing])),
            _capture(api, key, states.recall_event([missing])),
        ]
        assert [a.status_code for a in answers] == [422, 422]
        first, second = (a.json() for a in answers)
        assert first == second  # the same words whether or not the item exists
        lot_answer = _capture(api, key, states.recall_event(classes=[lot]))
        assert lot_answer.status_code == 422
    assert _authentic(api, item)["verdict"] == "genuine"  # nothing of theirs counted
    # Through POST /epcis/capture as well (all or nothing: nothing stored).
    doc = {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T07:00:00Z",
        "epcisBody": {"eventList": [states.recall_event([existing])]},
    }
    refused = api.client.post("/epcis/capture", json=doc, headers=auth(carrier))
    assert refused.status_code == 422
    assert _authentic(api, item)["verdict"] == "genuine"
    # A decommissioning or a sale of someone else's item is refused the same way.
    sold = {**states.recall_event([existing]), "disposition": "retail_sold"}
    assert _capture(api, carrier, sold).status_code == 422
    # The brand's recall is taken and counts.
    ok(_capture(api, brand_key, states.recall_event([existing])), 201)
    assert _authentic(api, item)["verdict"] == "recalled"
    # An item of no registered brand is nobody's consumer item: not refused, not counted.
    stranger = states.item_epc(gtin13(OTHER_PREFIX, "1"), "Z1", OTHER_PREFIX)
    ok(_capture(api, carrier, states.recall_event([stranger])), 201)


def test_the_custodian_may_state_a_fact_that_never_counts_as_the_brands_recall(
    api: Api,
) -> None:
    """DESIGN lets the item's custodian record consumer-facing facts; a recall counts only from
    the prefix's brand. Here the brand is the custodian and another brand is not."""
    item = states.genuine(api, "CU1")
    other_brand, _, _ = states.brand(api, *states.UNSIGNED_BRAND, on_chain=False)
    epc = states.item_epc(item.gtin, item.serial)
    assert _capture(api, other_brand, states.recall_event([epc])).status_code == 422


def test_a_lot_recall_reaches_every_item_of_the_lot_and_no_other(api: Api) -> None:
    key, wallet, gtin = states.brand(api)
    for serial, lot in (("L1A", "LOT7"), ("L1B", "LOT7"), ("L2A", "LOT8")):
        draft = ok(
            api.client.post(
                f"/products/{gtin}/items",
                json={"serials": [serial], "lot": lot},
                headers=auth(key),
            ),
            201,
        )
        signature = sign_typed(wallet, draft["typedData"])
        url = f"/commissionings/{draft['id']}/signature"
        ok(api.client.post(url, json={"signature": signature}, headers=auth(key)))
    states.anchor_final(api)
    lot_class = f"urn:epc:class:lgtin:{states.PREFIX}.077777.LOT7"
    when = datetime(2026, 12, 6, 2, 56, tzinfo=UTC)
    ok(_capture(api, key, states.recall_event(classes=[lot_class], when=when)), 201)
    for serial, expected in (("L1A", "recalled"), ("L1B", "recalled"), ("L2A", "genuine")):
        view = _authentic(api, states.StateItem(expected, gtin, serial))
        assert view["verdict"] == expected, (serial, view)
    view = _authentic(api, states.StateItem("recalled", gtin, "L1A"))
    assert view["recall"] == {
        "recalledAt": "2026-12-06T02:56:00+00:00",
        "scope": "lot",
        "lot": "LOT7",
    }
    # The whole product: every item, the earliest standing recall is the one shown.
    product = f"urn:epc:idpat:sgtin:{states.PREFIX}.077777.*"
    later = datetime(2026, 12, 7, tzinfo=UTC)
    ok(_capture(api, key, states.recall_event(classes=[product], when=later)), 201)
    assert _authentic(api, states.StateItem("", gtin, "L2A"))["recall"]["scope"] == "product"
    assert _authentic(api, states.StateItem("", gtin, "L1A"))["recall"]["scope"] == "lot"


def test_a_recall_stands_until_the_brand_declares_it_an_error(api: Api) -> None:
    item = states.genuine(api, "E1")
    key, _, _ = states.brand(api)
    carrier = api.principal("carrier", None, "Polar Freight")
    recall = states.recall_event([states.item_epc(item.gtin, item.serial)])
    ok(_capture(api, key, recall), 201)
    # A later event of the brand with another disposition does not lift it.
    later = {**recall, "disposition": "active"}
    later["eventTime"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    ok(_capture(api, key, {**later, "bizStep": "inspecting"}), 201)
    assert _authentic(api, item)["verdict"] == "recalled"
    declaration = {
        **recall,
        "errorDeclaration": {
            "declarationTime": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "reason": "incorrect_data",
        },
    }
    # Another party's declaration is refused (it states the recall too), the brand's lifts it.
    assert _capture(api, carrier, declaration).status_code == 422
    assert _authentic(api, item)["verdict"] == "recalled"
    ok(_capture(api, key, declaration), 201)
    assert _authentic(api, item)["verdict"] == "genuine"


@pytest.mark.parametrize("pattern", ["urn:epc:idpat:sgtin:0614141.*.*", "urn:epc:class:lgtin:x"])
def test_an_unclear_subject_of_a_fact_is_refused(api: Api, pattern: str) -> None:
    key, _, _ = states.brand(api)
    answer = _capture(api, key, states.recall_event(classes=[pattern]))
    assert answer.status_code in (400, 422), answer.text


def test_a_brand_whose_word_does_not_hold_says_nothing_on_the_page(api: Api) -> None:
    """Revoked or compromised: the brand's content (a stolen key's holder could keep a contact
    link there) is not shown on the item's page; a genuine item's is."""
    content = {"name": "Tea", "contact": {"url": "https://brand.example/help"}}
    shown = {}
    for make, (name, prefix) in (
        (states.brand_revoked, states.REVOKED_BRAND),
        (states.brand_compromised, states.COMPROMISED_BRAND),
        (states.genuine, (states.ACME, states.PREFIX)),
    ):
        item = make(api)
        key, _wallet, gtin = states.brand(api, name, prefix)
        put = api.client.put(f"/products/{gtin}/content/en", json=content, headers=auth(key))
        assert put.status_code in (200, 201), put.text
        answer = ok(api.client.get(item.path, params={"format": "json"}))
        shown[answer["authentic"]["verdict"]] = answer["content"]
        product = ok(api.client.get(f"/01/{gtin}", params={"format": "json"}))
        shown[f"{answer['authentic']['verdict']} product"] = product["content"]
    assert shown["brand_revoked"] is None and shown["brand_compromised"] is None
    assert shown["genuine"] is not None and shown["genuine"]["name"] == "Tea"
    # Nor on the product's page, where the brand's standing is all there is to go by.
    assert shown["brand_revoked product"] is None and shown["brand_compromised product"] is None
    assert shown["genuine product"] is not None
