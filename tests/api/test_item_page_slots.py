"""The item page's states and slots that other parts fill (api/schemas/resolver.py): recall,
compromise, no brand signature, no verdict, the cold chain's line and chart, the brand's
content; rendered from a view shaped as the JSON is, in English and Chinese."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markupsafe import Markup
from starlette.requests import Request

from api.page_language import TRANSLATIONS
from api.page_templates import environment, page_language

BRAND = "Acme Foods"


def _view(**authentic: Any) -> dict[str, Any]:
    commissioning = {
        "bizStep": "commissioning",
        "eventKind": 0,
        "eventTime": "2026-12-06T02:00:00.000Z",
        "place": "Roastery, Hamburg",
        "geo": None,
        "sensorSummary": None,
        "proven": True,
        "finality": "final",
        "erasure": None,
        "projectionHash": "0x" + "11" * 32,
        "root": "0x" + "22" * 32,
        "anchoring": {"txHash": "0x" + "33" * 32, "blockNumber": 7},
    }
    return {
        "item": {"gtin": "00614141123452", "serial": "A1", "lot": "L7", "expiry": "2027-05-31"},
        "product": {"gtin": "00614141123452", "name": "Cold brew 250 ml"},
        "brand": {"name": BRAND, "companyPrefix": "0614141"},
        "authentic": {"verdict": None, "root": None, **authentic},
        "history": [commissioning],
        "verify": {"contract": None, "chainId": None},
    }


def _render(view: dict[str, Any], language: str = "en", **extra: Any) -> str:
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b""}
    scope["headers"] = [(b"accept-language", language.encode())]
    context = {**page_language(Request(scope)), **view, **extra}
    return environment.get_template("item.html").render(context)


def _h1(page: str) -> str:
    found = re.search(r'<h1 id="verdict" data-verdict="([^"]+)">(.*?)</h1>', page, re.S)
    assert found, page
    return f"{found.group(1)}: {' '.join(found.group(2).split())}"


@pytest.mark.parametrize(
    ("authentic", "sentence", "reason"),
    [
        (
            {
                "verdict": "recalled",
                "since": "2026-12-06T09:30:00Z",
                "recall": {"recalledAt": "2026-12-06T09:30:00Z", "scope": "lot", "lot": "L7"},
            },
            "Recalled by %(brand)s: do not use this item.",
            "%(brand)s recalled lot %(lot)s of this product on %(time)s. Stop using it and "
            "follow the brand's or the shop's instructions.",
        ),
        (
            {"verdict": "brand_compromised", "since": "2026-12-06T09:30:00Z"},
            "Not confirmed by the brand: it was signed with a stolen key.",
            "%(brand)s reported its signing key stolen since %(time)s, and this item was "
            "recorded after that. Do not rely on it: ask the shop or the brand.",
        ),
        (
            {"verdict": "not_brand_signed"},
            "Not confirmed by the brand: the brand did not sign this item's registration.",
            "The record exists, but no signature of the brand covers it. Do not rely on it: ask "
            "the shop or the brand.",
        ),
        (
            {"verdict": None},
            "We cannot check this item right now.",
            "The public record is out of reach for the moment. Please scan again in a few minutes.",
        ),
    ],
)
@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_states_no_fixture_makes_yet_read_right(
    authentic: dict[str, Any], sentence: str, reason: str, language: str
) -> None:
    page = _render(_view(**authentic), language)
    gettext = TRANSLATIONS[language].gettext
    verdict = authentic["verdict"] or "unchecked"
    assert _h1(page) == f"{verdict}: {gettext(sentence) % {'brand': BRAND}}"
    time = '<time datetime="2026-12-06T09:30:00Z"'
    expected = gettext(reason) % {"brand": BRAND, "lot": "L7", "time": "\0"}
    before, _, after = expected.partition("\0")
    assert before in page and after in page
    if "\0" in expected:
        assert before + time in page


def test_not_yet_confirmed_counts_the_confirmations_to_come() -> None:
    page = _render(_view(verdict="not_yet_confirmed", confirmationsLeft=3))
    assert "waiting for 3 more confirmations" in page
    one = _render(_view(verdict="not_yet_confirmed", confirmationsLeft=1))
    assert "waiting for 1 more confirmation." in one


def test_cold_chain_line_chart_slot_and_brand_content() -> None:
    leg = {
        "band": {"minC": 2.0, "maxC": 8.0},
        "excursionMinutes": 6,
        "excursions": [
            {
                "start": "2026-12-06T02:52:00Z",
                "end": "2026-12-06T03:00:00Z",
                "minutes": 8,
                "cause": "temperature",
                "peakC": 9.5,
                "peakAt": "2026-12-06T02:56:00Z",
            }
        ],
        "peak": {"c": 9.5, "at": "2026-12-06T02:56:00Z"},
        "readingCount": 80,
    }
    view = _view(verdict="genuine")
    view["coldChain"] = {"legs": [leg]}
    view["content"] = {
        "lang": "en",
        "name": "Cold brew, oat",
        "description": "Slow-steeped for 18 hours.",
        "image": "data:image/png;base64,iVBORw0KGgo=",
        "contact": {"url": "javascript:alert(1)", "email": "care@acme.example"},
    }
    # The chart's slot calls `chart(leg)` (api/cold_chain_chart.py's render_chart, as Markup).
    chart = lambda leg: Markup("<svg data-leg-peak='{}'/>").format(leg["peak"]["c"])  # noqa: E731
    page = _render(view, chart=chart)
    assert (
        "Kept between 2 and 8 °C except 6 minutes at up to 9.5 °C on "
        '<time datetime="2026-12-06T02:56:00Z"' in page
    )
    assert "<figure class=\"chart\"><svg data-leg-peak='9.5'/></figure>" in page
    assert '<img src="data:image/png;base64,iVBORw0KGgo=" alt="Cold brew, oat"' in page
    assert "Slow-steeped for 18 hours." in page and "mailto:care@acme.example" in page
    assert "javascript:" not in page  # a contact URL is linked only if http(s)
    zh = _render(view, "zh-CN", chart=chart)
    line = TRANSLATIONS["zh-Hans"].ngettext(
        "Kept between %(low)s and %(high)s °C except %(num)s minute at up to %(peak)s °C on "
        "%(time)s.",
        "Kept between %(low)s and %(high)s °C except %(num)s minutes at up to %(peak)s °C on "
        "%(time)s.",
        6,
    )
    assert line.partition("%(time)s")[0] % {"low": "2", "high": "8"} in zh
    # Absent data: no line, no chart, no content block; the product's own name.
    bare = _render(_view(verdict="genuine"))
    assert "Kept between" not in bare and "<figure" not in bare and "<img" not in bare
    assert "Cold brew 250 ml" in bare
