"""The item page as a shopper sees it, in Debian's Chromium: every verdict state at phone and
desktop width (screenshots in test-artifacts/), its sentence, the language, the times in the
viewer's zone, axe-core's WCAG 2.2 AA rules, 320 px without sideways scrolling, and one HTML
request and nothing else."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.page_language import TRANSLATIONS
from api.verifier_script import SCRIPT_PATH
from tests.api.page_states import ServedStates
from tests.api.page_states import served_states as served_states  # the fixture
from tests.api.verdict_states import ACME, StateItem
from tests.utils.browser import (
    DESKTOP,
    NARROW,
    PHONE,
    axe_violations,
    describe,
    page_at,
    screenshot,
)

WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
# The sentence each state's page opens with (the catalog's message id) and the brand it names.
SENTENCES = {
    "genuine": ("Genuine: %(brand)s made and registered this item.", ACME),
    "recalled": ("Recalled by %(brand)s: do not use this item.", ACME),
    "brand_revoked": ("Not confirmed by the brand: the key that signed it was revoked.", None),
    "brand_compromised": ("Not confirmed by the brand: it was signed with a stolen key.", None),
    "not_brand_signed": (
        "Not confirmed by the brand: the brand did not sign this item's registration.",
        None,
    ),
    "not_recognised": ("%(brand)s has not registered this code.", ACME),
    "unregistered": ("This product number is not registered with chaintrace.", None),
    "not_yet_confirmed": ("Registered by %(brand)s, not yet confirmed.", ACME),
}
STATES = list(SENTENCES)


def sentence(state: str, lang: str) -> str:
    message, brand = SENTENCES[state]
    text = TRANSLATIONS[lang].gettext(message)
    return text % {"brand": brand} if brand else text


def _open(
    browser: Any, served: ServedStates, state: StateItem, viewport: dict[str, int], **kw: Any
) -> tuple[Any, list[Any]]:
    """The page loaded, with every request it made (document, scripts, images, ...)."""
    page = page_at(browser, viewport, **kw)
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    response = page.goto(served.url + state.path)
    assert response is not None
    expected = 404 if state.verdict in ("not_recognised", "unregistered") else 200
    assert response.status == expected
    return page, requests


def _verdict(page: Any) -> tuple[str, str]:
    heading = page.locator("h1[data-verdict]")
    assert heading.count() == 1
    return heading.get_attribute("data-verdict"), " ".join(heading.inner_text().split())


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("name", STATES)
def test_each_state_opens_with_its_sentence_and_passes_axe(
    browser: Any, served_states: ServedStates, name: str, width: str
) -> None:
    state = served_states.states[name]
    page, requests = _open(browser, served_states, state, WIDTHS[width])
    try:
        assert _verdict(page) == (state.verdict, sentence(name, "en"))
        # The verdict is the first thing on the page after the language switch.
        first = page.evaluate("document.querySelector('main > section, main > header').innerText")
        assert sentence(name, "en") in " ".join(first.split())
        screenshot(page, f"item-{name}-{width}")
        # One HTML request; the only other one the page may make is the verifier script.
        others = [r for r in requests if urlsplit(r.url).path != SCRIPT_PATH]
        assert [(r.resource_type, r.method) for r in others] == [("document", "GET")]
        violations = axe_violations(page)
        assert violations == [], describe(violations)
    finally:
        page.context.close()


@pytest.mark.parametrize("name", STATES)
def test_each_state_in_chinese_from_the_browser_s_language(
    browser: Any, served_states: ServedStates, name: str
) -> None:
    state = served_states.states[name]
    page, _ = _open(browser, served_states, state, PHONE, locale="zh-CN")
    try:
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        assert _verdict(page) == (state.verdict, sentence(name, "zh-Hans"))
        screenshot(page, f"item-{name}-phone-zh")
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        # The switch back to English: the same page, the same verdict, in English.
        page.get_by_role("link", name="English").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert _verdict(page) == (state.verdict, sentence(name, "en"))
    finally:
        page.context.close()


@pytest.mark.parametrize("name", STATES)
def test_320_px_needs_no_sideways_scrolling(
    browser: Any, served_states: ServedStates, name: str
) -> None:
    page, _ = _open(browser, served_states, served_states.states[name], NARROW)
    try:
        for details in page.locator("details").all():
            details.evaluate("d => d.open = true")  # what a reader opens must fit as well
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        screenshot(page, f"item-{name}-320")
    finally:
        page.context.close()


def _local(iso: str, offset_hours: int) -> str:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ") + timedelta(hours=offset_hours)
    return moment.strftime("%H:%M")


def test_times_are_in_the_viewer_s_zone_with_utc_on_hover(
    browser: Any, served_states: ServedStates
) -> None:
    state = served_states.states["genuine"]
    page, _ = _open(browser, served_states, state, PHONE, timezone_id="Asia/Shanghai")
    try:
        times = page.locator('time[datetime$="Z"]').all()
        assert times, "the page shows no time"
        for element in times:
            iso = element.get_attribute("datetime")
            assert iso is not None
            assert element.get_attribute("data-zone") == "Asia/Shanghai"
            text = element.inner_text()
            assert _local(iso, 8) in text and "GMT+8" in text and "UTC" not in text
            title = element.get_attribute("title")
            assert title is not None and title.endswith(f"{_local(iso, 0)} UTC")
    finally:
        page.context.close()
    # Without JavaScript the server's text stays, and says it is UTC.
    page, _ = _open(browser, served_states, state, PHONE, java_script_enabled=False)
    try:
        for element in page.locator('time[datetime$="Z"]').all():
            iso = element.get_attribute("datetime")
            assert iso is not None
            assert re.search(rf"{_local(iso, 0)} UTC$", element.inner_text())
    finally:
        page.context.close()
