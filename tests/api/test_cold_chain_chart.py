"""The cold-chain chart (api/cold_chain_chart.py) of legs made as the item view makes them: the
band where its limits are, the excursion marked where and as high as it was, the peak kept
through downsampling, words for screen readers, panels only for what the terms set, nothing
private, everything escaped; and as Chromium shows it at phone width."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from api.cold_chain_chart import render_chart
from tests.api.cold_chain_support import (
    AMOUNT,
    DEVICES,
    PARTY,
    T0,
    english,
    leg,
    readings,
    short_time,
    terms,
)
from tests.api.demo_item_support import DemoItem, demo_item
from tests.utils.browser import NARROW, PHONE, page_at, screenshot

# Fixtures. The demo chart is tested here, not in test_cold_chain.py: a second module importing
# `browser` would start a second sync Playwright in the same run, which Playwright refuses.
__all__ = ["demo_item"]

SVG = "{http://www.w3.org/2000/svg}"


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def demo_like(d: int, i: int) -> tuple[int, int, int]:
    """The demo's trip: 4.5-4.9 degC, sensor 1 at 9.5 degC for eight minutes from minute 15."""
    hot = d == 0 and 15 <= i < 23
    return (950 if hot else 450 + (i % 5) * 10), 5_000, 100


def _demo_leg(**overrides: Any) -> dict[str, Any]:
    agreed = terms(**{"grace_minutes": 2, "max_gap_minutes": 5, **overrides})  # the demo's
    return leg(readings(40, 60, demo_like), T0 + 41 * 60, agreed)


class Drawn:
    """The chart parsed, with the plot's scales read back from the band and the frame."""

    def __init__(self, markup: str, leg_: dict[str, Any]) -> None:
        self.root = ET.fromstring(markup)
        self.leg = leg_
        band = self.one("rect", "cc-band")
        top, height = float(band.get("y", 0)), float(band.get("height", 0))
        low, high = leg_["band"]["minC"], leg_["band"]["maxC"]
        self.per_degree = height / (float(high) - float(low))
        self.y_of_high = float(top)
        self.high = float(high)
        frame = self.one("rect", "cc-plot")
        self.left, self.width = float(frame.get("x", 0)), float(frame.get("width", 0))

    def all(self, tag: str, cls: str | None = None) -> list[ET.Element]:
        found = self.root.iter(SVG + tag)
        return [e for e in found if cls is None or e.get("class") == cls]

    def one(self, tag: str, cls: str) -> ET.Element:
        (element,) = self.all(tag, cls)
        return element

    def y(self, c: float) -> float:
        return self.y_of_high + (self.high - c) * self.per_degree

    def x(self, iso: str) -> float:
        start, end = _ms(self.leg["window"]["start"]), _ms(self.leg["window"]["end"])
        return self.left + (_ms(iso) - start) / (end - start) * self.width

    def line_points(self) -> list[tuple[float, float]]:
        points = []
        for line in self.all("polyline"):
            for pair in (line.get("points") or "").split():
                x, y = pair.split(",")
                points.append((float(x), float(y)))
        return points


def test_the_band_sits_at_its_limits_and_the_excursion_is_marked_where_it_peaked() -> None:
    leg_ = _demo_leg()
    drawn = Drawn(render_chart(leg_, english, short_time), leg_)
    # The limits' labels and dashed lines sit on the band's edges.
    labels = {t.text: float(t.get("y", 0)) - 4 for t in drawn.all("text", "cc-limit")}
    assert labels == {"8 °C": pytest.approx(drawn.y(8)), "2 °C": pytest.approx(drawn.y(2))}
    assert drawn.y(2) - drawn.y(8) > 50  # a band one can see
    # The readings are drawn on the band's scale: 4.5 degC inside it, 9.5 degC above it.
    ys = {round(y, 1) for _, y in drawn.line_points()}
    assert round(drawn.y(4.5), 1) in ys and round(drawn.y(9.5), 1) in ys
    (excursion,) = leg_["excursions"]
    assert excursion["peakC"] == 9.5 and excursion["minutes"] == 6
    mark = drawn.one("polygon", "cc-peak")
    xs = [float(p.split(",")[0]) for p in (mark.get("points") or "").split()]
    ys_mark = [float(p.split(",")[1]) for p in (mark.get("points") or "").split()]
    assert sum(xs[1:]) / 2 == pytest.approx(drawn.x(excursion["peakAt"]), abs=0.2)
    assert max(ys_mark) < drawn.y(9.5)  # a triangle just above the peak
    shaded = drawn.one("rect", "cc-excursion")
    assert float(shaded.get("x", 0)) == pytest.approx(drawn.x(excursion["start"]), abs=0.2)
    assert mark.find(SVG + "title") is not None  # its words on hover and for screen readers
    assert any(t.text == "9.5 °C" for t in drawn.all("text"))  # the value, not colour alone


def test_ten_thousand_readings_keep_their_one_peak() -> None:
    def spike(d: int, i: int) -> tuple[int, int, int]:
        return (1230 if d == 1 and i == 3_117 else 450 + (i * 7 % 13) * 10), 5_000, 100

    made = readings(5_000, 30, spike)  # two sensors: 10,000 readings over 41 hours
    leg_ = leg(made, T0 + 5_000 * 30)
    assert leg_["readingCount"] == 10_000
    assert leg_["peak"] == {"c": 12.3, "at": leg_["excursions"][0]["peakAt"]}
    points = [p for line in leg_["series"] for p in line]
    assert len(points) <= 2 * 120 * 3  # bounded: each bucket keeps its extremes
    assert 12.3 in [p["c"] for p in points]
    markup = render_chart(leg_, english, short_time)
    drawn = Drawn(markup, leg_)
    assert len(drawn.line_points()) <= 2 * 200 * 3
    assert round(drawn.y(12.3), 1) in {round(y, 1) for _, y in drawn.line_points()}
    assert len(markup) < 60_000


def test_title_and_desc_say_it_in_words() -> None:
    leg_ = _demo_leg()
    root = ET.fromstring(render_chart(leg_, english, short_time))
    assert root.get("role") == "img"
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    words = desc.text or ""
    assert "2 °C to 8 °C" in words and "up to 9.5 °C" in words and "80 readings" in words
    assert short_time(datetime.fromtimestamp(T0, UTC)) in words
    assert root.get("viewBox", "").startswith("0 0 400 ")  # scales to any width


def test_humidity_and_shock_panels_only_when_the_terms_set_them() -> None:
    with_both = _demo_leg()
    drawn = Drawn(render_chart(with_both, english, short_time), with_both)
    assert drawn.all("rect", "cc-humidity") and drawn.all("rect", "cc-shock")
    assert with_both["humidityBand"] == {"minPct": 30.0, "maxPct": 85.0}
    assert with_both["maxShockMilliG"] == 2_500
    neither = _demo_leg(min_humidity_centi_pct=0, max_humidity_centi_pct=0, max_shock_milli_g=0)
    assert neither["humidityBand"] is None and neither["maxShockMilliG"] is None
    assert neither["shocks"] is None
    assert all(p["rh"] is None and p["g"] is None for line in neither["series"] for p in line)
    drawn = Drawn(render_chart(neither, english, short_time), neither)
    assert not drawn.all("rect", "cc-humidity") and not drawn.all("rect", "cc-shock")
    shock_only = _demo_leg(min_humidity_centi_pct=0, max_humidity_centi_pct=0)
    drawn = Drawn(render_chart(shock_only, english, short_time), shock_only)
    assert not drawn.all("rect", "cc-humidity") and drawn.all("rect", "cc-shock")


def test_shocks_and_humidity_excursions_are_marked_in_their_panels() -> None:
    def rough(d: int, i: int) -> tuple[int, int, int]:
        return 450, (9_300 if 10 <= i < 40 else 5_000), (4_000 if i == 30 else 100)

    leg_ = leg(readings(60, 60, rough), T0 + 61 * 60)
    assert leg_["shocks"] == 1
    (humid,) = leg_["excursions"]
    assert humid["cause"] == "humidity" and humid["peakC"] is None
    drawn = Drawn(render_chart(leg_, english, short_time), leg_)
    assert len(drawn.all("polygon", "cc-shock-mark")) == 2  # both sensors felt it
    assert len(drawn.all("polygon", "cc-humidity-mark")) == 1
    assert not drawn.all("polygon", "cc-peak")  # the temperature stayed inside


def test_nothing_private_and_everything_escaped() -> None:
    leg_ = _demo_leg()
    text = json.dumps(leg_) + render_chart(leg_, english, short_time)
    for secret in (*DEVICES, PARTY, "5a" * 32, str(AMOUNT), str(AMOUNT)[:9]):
        assert secret[2:].lower() not in text.lower() if secret.startswith("0x") else True
        assert secret.lower() not in text.lower()

    def hostile(msgid: str) -> str:
        return '<script>alert("x")</script> & ' + msgid

    markup = render_chart(leg_, hostile, lambda moment: "<i>" + short_time(moment) + "</i>")
    ET.fromstring(markup)  # still well-formed XML
    assert "<script>" not in markup and "<i>" not in markup
    assert "&lt;script&gt;" in markup


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_texts_and_marks_pass_wcag_aa_contrast_on_white() -> None:
    leg_ = _demo_leg()
    markup = render_chart(leg_, english, short_time)
    root = ET.fromstring(markup)
    inks = {t.get("fill") for t in root.iter(SVG + "text")}
    lines = {e.get("stroke") for e in root.iter(SVG + "polyline")}
    marks = {e.get("fill") for e in root.iter(SVG + "polygon")}
    for colour in inks | lines | marks:
        assert colour and re.fullmatch(r"#[0-9a-f]{6}", colour)
        ratio = 1.05 / (_luminance(colour) + 0.05)
        assert ratio >= 4.5, (colour, ratio)


@pytest.mark.parametrize("viewport", [PHONE, NARROW], ids=["390px", "320px"])
def test_chromium_draws_it_within_a_phone_screen(browser: Any, viewport: dict[str, int]) -> None:
    leg_ = _demo_leg()
    svg = render_chart(leg_, english, short_time)
    page = page_at(browser, viewport, java_script_enabled=False)
    try:
        page.set_content(
            f'<!doctype html><html lang="en"><body style="margin:8px">{svg}</body></html>'
        )
        box = page.locator("svg").bounding_box()
        assert box is not None and box["width"] <= viewport["width"] - 16 + 0.5
        assert box["height"] > box["width"] * 0.8  # scaled, not cropped
        # The band's limit labels are large enough to read (at least 10 px).
        size = page.locator("text.cc-limit").first.bounding_box()
        assert size is not None and size["height"] >= 10
        screenshot(page, f"cold-chain-chart-{viewport['width']}")
    finally:
        page.context.close()


def test_the_demo_chart_at_phone_width(demo_item: DemoItem, browser: Any) -> None:
    leg = json.loads(demo_item.json_text)["coldChain"]["legs"][0]
    page = page_at(browser, PHONE, java_script_enabled=False)
    try:
        page.set_content(
            '<!doctype html><html lang="en"><body style="margin:8px">'
            f"{render_chart(leg, english, short_time)}</body></html>"
        )
        assert page.locator("svg polygon.cc-peak").count() == 1
        assert page.locator("svg text", has_text="9.5 °C").count() == 1
        box = page.locator("svg").bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
        screenshot(page, "cold-chain-demo-390")
    finally:
        page.context.close()
