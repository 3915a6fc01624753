"""An event recorded before kind 2 leaves existed: until the backfill gives it one, the public view
shows its projection computed now, without proof, and says so; the backfill then proves that very
projection."""

from __future__ import annotations

from sqlalchemy import delete, select

from core.epcis.projection import projection_hash
from store.db import session_factory, transaction
from store.models import Item, Leaf
from store.models.events import MEMBER_KIND
from store.projections import backfill_member_leaves
from tests.api.flows import World, anchor_worker, auth, ok, register_brand_on_chain
from tests.core.epcis.reference_oracle import reference_event_hash


def test_an_event_without_a_kind_2_leaf_is_shown_unproven_until_the_backfill(
    world: World,
) -> None:
    api = world.api
    url = f"/shipments/{world.shipment_id}/events"
    recorded = ok(
        api.client.post(url, json={"bizStep": "shipping"}, headers=auth(world.carrier_key)), 201
    )
    with transaction(session_factory(api.engine)) as session:  # as recorded before 0023
        session.execute(
            delete(Leaf).where(Leaf.event_id == recorded["id"], Leaf.kind == MEMBER_KIND)
        )
    link = f"/01/{world.gtin}/21/A1"
    _, _packing, shipping = ok(api.client.get(link, params={"format": "json"}))["history"]
    assert shipping["bizStep"] == "shipping" and shipping["proven"] is False
    assert shipping["finality"] == "unproven" and shipping["anchoring"] is None
    assert shipping["salt"] is shipping["leaf"] is shipping["proof"] is shipping["root"] is None
    assert shipping["note"].startswith("Not yet proven")
    assert shipping["projection"]["epcList"] == ["urn:epc:id:sgtin:0614141.012345.A1"]
    shown = shipping["projectionHash"]
    reference = reference_event_hash(shipping["projection"])  # GS1's tool, unpatched
    assert reference is not None and "0x" + reference.hex() == shown
    page = api.client.get(link, headers={"Accept": "text/html"}).text
    assert "not yet proven" in page and "recorded before public proofs existed" in page

    with transaction(session_factory(api.engine)) as session:
        assert backfill_member_leaves(session, 0, 100).leaves >= 1
    _, _packing, shipping = ok(api.client.get(link, params={"format": "json"}))["history"]
    assert shipping["proven"] is True and shipping["finality"] == "pending"
    assert (
        shipping["projectionHash"] == shown == "0x" + projection_hash(shipping["projection"]).hex()
    )
    assert shipping["salt"] is not None and shipping["note"] is None
    assert "not yet proven" not in api.client.get(link, headers={"Accept": "text/html"}).text


def test_a_backfilled_commissioning_projection_is_never_offered_as_the_brands_word(
    world: World,
) -> None:
    """An item commissioned before kind 2 leaves: the backfill puts its commissioning projection
    in a platform root, which the page shows as proven but never as the root the brand signed."""
    api = world.api
    register_brand_on_chain(api)
    worker = anchor_worker(api)
    worker.run_once()
    link = f"/01/{world.gtin}/21/A1"
    signed = ok(api.client.get(link, params={"format": "json"}))["authentic"]
    assert signed["root"] is not None and signed["brandCheck"] is not None
    with transaction(session_factory(api.engine)) as session:  # as commissioned before 0023
        item = session.scalar(select(Item).where(Item.serial == "A1"))
        assert item is not None
        session.execute(
            delete(Leaf).where(Leaf.event_id == item.commission_event_id, Leaf.kind == MEMBER_KIND)
        )
    with transaction(session_factory(api.engine)) as session:
        assert backfill_member_leaves(session, 0, 100).leaves == 1
    worker.run_once()
    body = ok(api.client.get(link, params={"format": "json"}))
    commissioning = body["history"][0]
    assert commissioning["bizStep"] == "commissioning" and commissioning["proven"] is True
    assert commissioning["anchoring"]["signedByBrand"] is None  # a platform root
    authentic = body["authentic"]
    assert authentic["root"] is None and authentic["brandCheck"] is None
    assert authentic["signedByBrand"] is not None  # the verdict rests on the event's own leaf
