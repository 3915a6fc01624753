"""core.epcis.consumer_facts: which events state a consumer-facing fact, and about what."""

from __future__ import annotations

from core.epcis.consumer_facts import Subject, consumer_fact, is_recall, named_subjects, subject_of

GTIN = "00614141077779"  # prefix 0614141, indicator 0, item 07777, check digit 9


def test_the_facts_are_exactly_the_documented_dispositions_and_steps() -> None:
    assert consumer_fact({"disposition": "recalled"}) == "recalled"
    assert consumer_fact({"disposition": "https://ref.gs1.org/cbv/Disp-retail_sold"}) == "sold"
    assert consumer_fact({"disposition": "urn:epcglobal:cbv:disp:inactive"}) == "decommissioned"
    assert consumer_fact({"bizStep": "decommissioning"}) == "decommissioned"
    assert consumer_fact({"bizStep": "retail_selling"}) == "sold"
    for other in ("active", "in_transit", "damaged", "destroyed"):
        assert consumer_fact({"disposition": other, "bizStep": "inspecting"}) is None
    recall = {"type": "ObjectEvent", "action": "OBSERVE", "disposition": "cbv:Disp-recalled"}
    assert is_recall(recall)
    assert not is_recall({**recall, "action": "DELETE"})


def test_subjects_item_lot_product_and_unclear_forms() -> None:
    assert subject_of("urn:epc:id:sgtin:0614141.007777.S1") == Subject(GTIN, serial="S1")
    assert subject_of("urn:epc:class:lgtin:0614141.007777.L%2F1") == Subject(GTIN, lot="L/1")
    assert subject_of("urn:epc:idpat:sgtin:0614141.007777.*") == Subject(GTIN)
    assert subject_of(f"https://id.example.com/01/{GTIN}/10/L1") == Subject(GTIN, lot="L1")
    assert subject_of(f"https://id.example.com/01/{GTIN}/21/S1") == Subject(GTIN, serial="S1")
    assert Subject(GTIN, serial="S1").scope == "item" and Subject(GTIN).scope == "product"
    for unclear in (
        "urn:epc:idpat:sgtin:0614141.*.*",
        "urn:epc:class:lgtin:x",
        "urn:epc:id:sgtin:1",
    ):
        assert subject_of(unclear) is None
    event = {
        "epcList": ["urn:epc:id:sscc:0614141.1234567890", "urn:epc:id:sgtin:0614141.007777.S1"],
        "quantityList": [{"epcClass": "urn:epc:idpat:sgtin:0614141.*.*", "quantity": 1}],
    }
    named = named_subjects(event)  # the SSCC is nobody's consumer item
    assert [(n.pointer, n.subject) for n in named] == [
        ("/epcList/1", Subject(GTIN, serial="S1")),
        ("/quantityList/0/epcClass", None),
    ]
