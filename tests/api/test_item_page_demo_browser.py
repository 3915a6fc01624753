"""The demo's item page (`make demo` prints its link) in Chromium: a whole first trip, every step
final. Its phone screenshot is the README's (docs/img/item-phone.png, regenerated here)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.verifier_script import SCRIPT_PATH
from tests.api.demo_item_support import DemoItem
from tests.api.demo_item_support import demo_item as demo_item  # the fixture
from tests.utils.browser import (
    DESKTOP,
    NARROW,
    PHONE,
    axe_violations,
    describe,
    page_at,
    screenshot,
)

README_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "item-phone.png"


def _open(browser: Any, demo_item: DemoItem, viewport: dict[str, int]) -> tuple[Any, list[Any]]:
    page = page_at(browser, viewport)
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    response = page.goto(demo_item.api_url + demo_item.link)
    assert response is not None and response.status == 200
    return page, requests


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_the_demo_item_reads_as_a_journey(browser: Any, demo_item: DemoItem, width: str) -> None:
    page, requests = _open(browser, demo_item, PHONE if width == "phone" else DESKTOP)
    try:
        verdict = page.locator("h1[data-verdict]")
        assert verdict.get_attribute("data-verdict") == "genuine"
        assert " ".join(verdict.inner_text().split()).startswith("Genuine: ")
        journey = page.locator("ol.journey > li")
        steps = [" ".join(t.split()) for t in journey.locator(".step").all_inner_texts()]
        # The trip's steps in order, each final in plain words; no sensor window on its own.
        expected = ["Registered by the brand", "Packed", "Shipped", "Arrived", "Received"]
        assert steps == [f"{title} final" for title in expected], steps
        # The receiving sums the trip's readings up, the excursion in words.
        received = " ".join(journey.nth(4).locator(".sensor").inner_text().split())
        assert received == "80 readings · 4.5 to 9.5 °C · 6 minutes outside the agreed range"
        # One disclosure per step, each a touch target of at least 24 px.
        summaries = page.locator("ol.journey summary").all()
        assert len(summaries) == len(expected)
        for summary in summaries:
            box = summary.bounding_box()
            assert box is not None and box["height"] >= 24
        path = screenshot(page, f"item-demo-{width}")
        if width == "phone":
            README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, README_IMAGE)
        # One HTML request; the only other one the page may make is the verifier script.
        others = [r for r in requests if urlsplit(r.url).path != SCRIPT_PATH]
        assert [(r.resource_type, r.method) for r in others] == [("document", "GET")]
        violations = axe_violations(page)
        assert violations == [], describe(violations)
    finally:
        page.context.close()


def test_the_demo_item_fits_320_px(browser: Any, demo_item: DemoItem) -> None:
    page, _ = _open(browser, demo_item, NARROW)
    try:
        for details in page.locator("details").all():
            details.evaluate("d => d.open = true")
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        screenshot(page, "item-demo-320-open")
    finally:
        page.context.close()
