"""Which shipment a captured event names, and what counts as a commissioning."""

from __future__ import annotations

from core.epcis.capture_rights import is_commissioning, shipment_reference

_ID = "0x" + "ab" * 32


def test_a_shipment_is_named_as_a_biz_transaction_whatever_the_case() -> None:
    event = {"bizTransactionList": [{"type": "po", "bizTransaction": "urn:x:1"}]}
    assert shipment_reference(event) is None
    event["bizTransactionList"].append({"bizTransaction": "URN:ChainTrace:shipment:" + _ID})
    assert shipment_reference(event) == ("/bizTransactionList/1/bizTransaction", _ID)


def test_a_shipment_named_elsewhere_has_no_id() -> None:
    for event, pointer in (
        ({"ext:note": "see urn:chaintrace:shipment:" + _ID}, "/ext:note"),
        ({"a/b": ["urn:chaintrace:shipment:" + _ID]}, "/a~1b/0"),
        ({"bizTransactionList": [{"bizTransaction": "x urn:chaintrace:shipment:1"}]}, None),
    ):
        found = shipment_reference(event)
        assert found is not None and found[1] is None
        if pointer is not None:
            assert found[0] == pointer


def test_a_commissioning_is_add_with_the_commissioning_step() -> None:
    assert is_commissioning({"action": "ADD", "bizStep": "commissioning"})
    assert is_commissioning(
        {"action": "ADD", "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning"}
    )
    assert not is_commissioning({"action": "OBSERVE", "bizStep": "commissioning"})
    assert not is_commissioning({"action": "ADD", "bizStep": "packing"})


def test_a_shipment_named_elsewhere_after_the_reference_is_refused_too() -> None:
    # Whatever the key order: a reference in bizTransactionList does not excuse a shipment
    # named in another field (destinationList, ILMD, an extension) or a second, malformed one.
    other = "urn:chaintrace:shipment:0x" + "cd" * 32
    reference = {"bizTransactionList": [{"bizTransaction": "urn:chaintrace:shipment:" + _ID}]}
    for extra, pointer in (
        (
            {"destinationList": [{"type": "owning_party", "destination": other}]},
            "/destinationList/0/destination",
        ),
        ({"ilmd": {"ext:shipment": other}}, "/ilmd/ext:shipment"),
        ({"ext:note": [other]}, "/ext:note/0"),
    ):
        assert shipment_reference({**reference, **extra}) == (pointer, None)
    twice = {
        "bizTransactionList": [
            {"bizTransaction": "urn:chaintrace:shipment:" + _ID},
            {"bizTransaction": " " + other},
        ]
    }
    assert shipment_reference(twice) == ("/bizTransactionList/1/bizTransaction", None)
