"""The public page and JSON of the demo's item show nothing of its events beyond the item's own
projections (DESIGN.md "Public and private views"): no other serial or EPC, device, party wallet,
shipment id, full event hash, eventID or exact position."""

from __future__ import annotations

from tests.api.demo_item_support import ITEM_SERIAL, DemoItem, demo_item, leaks

__all__ = ["demo_item"]


def test_the_demo_item_page_shows_nothing_private(demo_item: DemoItem) -> None:
    assert ITEM_SERIAL in demo_item.html  # the item's own page
    assert demo_item.secrets  # the store has other serials, devices, hashes ... to look for
    assert not leaks(demo_item.html, demo_item.secrets)


def test_the_demo_item_json_shows_nothing_private(demo_item: DemoItem) -> None:
    view = demo_item.view()
    assert view["item"]["serial"] == ITEM_SERIAL  # type: ignore[index]
    assert not leaks(demo_item.json_text, demo_item.secrets)
