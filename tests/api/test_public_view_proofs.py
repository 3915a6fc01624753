"""The demo item's public projections check out the way a consumer checks them: GS1's reference
tool recomputes each projectionHash from the projection shown; each proof verifies in Python, on
chain (verifyMember) and with OpenZeppelin's JS library; the commissioning's root is the brand's."""

from __future__ import annotations

from typing import Any

from chain.clients.trace_anchor_v2 import TraceAnchorV2Client
from chaintrace.story import GTIN
from core.hexstr import hex0x
from core.merkle import MEMBER_V1
from tests.api.demo_item_support import DemoItem, demo_item
from tests.api.public_proofs import on_chain, openzeppelin, python_root, reference_hash

__all__ = ["demo_item"]


def _history(item: DemoItem) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = item.view()["history"]  # type: ignore[assignment]
    return history


def test_every_step_of_the_demo_item_is_a_final_proven_projection(demo_item: DemoItem) -> None:
    history = _history(demo_item)
    steps = {e["bizStep"] for e in history}
    # Sensor windows name the shipment's container, not the item: the item's steps are its own.
    assert {"commissioning", "packing", "shipping", "arriving", "receiving"} <= steps
    assert all(e["proven"] and e["finality"] == "final" for e in history), [
        (e["bizStep"], e["finality"]) for e in history
    ]


def test_the_reference_tool_recomputes_every_projection_hash(demo_item: DemoItem) -> None:
    for entry in _history(demo_item):
        assert reference_hash(entry) == entry["projectionHash"], entry["bizStep"]


def test_every_proof_leads_to_its_root_in_python(demo_item: DemoItem) -> None:
    for entry in _history(demo_item):
        assert python_root(entry) == entry["root"] == entry["anchoring"]["root"]


def test_every_proof_verifies_on_chain(demo_item: DemoItem) -> None:
    w3 = demo_item.services.w3()
    for entry in _history(demo_item):
        assert entry["anchoring"]["contract"] == demo_item.deployment.trace_anchor_v2
        assert on_chain(w3, entry), entry["bizStep"]
        info = TraceAnchorV2Client(w3, entry["anchoring"]["contract"]).root_info(entry["root"])
        assert info.anchored_at > 0 and info.block_number == entry["anchoring"]["blockNumber"]


def test_every_proof_verifies_with_openzeppelin_js(demo_item: DemoItem) -> None:
    history = _history(demo_item)
    said = openzeppelin(demo_item.json_text)
    assert said["memberV1"] == hex0x(MEMBER_V1)
    # The library's leaf of [MEMBER_V1, 2, eventKind, projectionHash, salt] is ours, byte for byte.
    assert [r["leaf"] for r in said["results"]] == [e["leaf"] for e in history]
    assert all(r["verified"] for r in said["results"]) and said["results"]


def test_the_commissioning_root_is_confirmed_by_the_prefix_holder(demo_item: DemoItem) -> None:
    view = demo_item.view()
    authentic: dict[str, Any] = view["authentic"]  # type: ignore[assignment]
    [commissioning] = [e for e in _history(demo_item) if e["bizStep"] == "commissioning"]
    assert authentic["verdict"] == "genuine"
    assert authentic["root"] == commissioning["root"]
    assert authentic["contract"] == commissioning["anchoring"]["contract"]
    anchor = TraceAnchorV2Client(demo_item.services.w3(), authentic["contract"])
    info = anchor.root_info(authentic["root"])
    assert info.brand_confirmed is True
    assert info.brand == anchor.brand_of_gtin(GTIN) == demo_item.story.acc.brand.address
