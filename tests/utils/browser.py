"""Debian's Chromium driven by Playwright (no browser download: ../shared/TOOLCHAIN.md), for
tests that judge pages as a person sees them: screenshots at phone and desktop width written as
test artefacts, axe-core run in the page.

    from tests.utils.browser import page_at, axe_violations, screenshot, PHONE, DESKTOP

`browser` (session; a plugin of tests/conftest.py: import it into no test module, or Playwright
would be started twice) skips with the reason when Chromium or Playwright is missing, and fails
instead under CHAINTRACE_REQUIRE_SERVICES=1 (CI). Network access is limited to 127.0.0.1: every
request to another host is aborted, so a page that needs a CDN shows it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.utils.mosquitto import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots and other artefacts a person looks at after the run (gitignored).
ARTEFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}
DESKTOP = {"width": 1366, "height": 900}
# WCAG 2.2 AA, contrast included: the tags axe-core files those rules under.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    executable = chromium_path()
    if executable is None:
        skip_or_fail("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


def _loopback_only(route: Any) -> None:
    host = urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith("data:"):
        route.continue_()
    else:
        route.abort()


def page_at(
    browser: Any,
    viewport: dict[str, int],
    *,
    locale: str = "en-US",
    timezone_id: str = "UTC",
    java_script_enabled: bool = True,
) -> Any:
    """A fresh page (its own context: cookies, language, zone) that reaches only loopback."""
    context = browser.new_context(
        viewport=viewport,
        locale=locale,
        timezone_id=timezone_id,
        java_script_enabled=java_script_enabled,
    )
    context.route("**/*", _loopback_only)
    return context.new_page()


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot under test-artifacts/ (looked at by a person, kept by CI)."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations in the page as it is now (id, impact, nodes' targets)."""
    if not AXE.exists():
        skip_or_fail(f"axe-core is missing at {AXE} (npm install)")
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: the page is
    # judged under the policy it is served with (a script tag would need that policy loosened).
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]],
        }
        for v in result["violations"]
    ]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)
