""" "Check it yourself" on the demo item's page, in Debian's Chromium: the in-page verifier fetches
the bundle, recomputes leaves, proofs and roots and asks the test chain through the public RPC
(green); a tampered bundle served in its place turns it red. Without PUBLIC_RPC_URL the panel
says the check is not offered and the page loads no script; with EXPLORER_URL each anchoring
transaction links to the explorer."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.main import create_app
from api.page_times import LOCAL_TIME_SCRIPT_HASH
from api.security_headers import resolver_csp
from api.settings import ApiSettings
from api.verifier_script import INTEGRITY, SCRIPT_PATH
from tests.api.demo_item_support import DemoItem, demo_item
from tests.utils.browser import AXE, DESKTOP, PHONE, WCAG_TAGS, page_at, screenshot

__all__ = ["demo_item"]  # `browser`: tests/conftest.py loads tests.utils.browser

_SCRIPT_TAG = f'<script src="{SCRIPT_PATH}" integrity="{INTEGRITY}" defer></script>'


def _run_check(page: Any) -> str:
    page.click("#verify-run")
    page.wait_for_selector("#verify-result[data-verified]", timeout=60_000)
    return str(page.get_attribute("#verify-result", "data-verified"))


def _panel_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations inside the panel only (the rest is the page's)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "tags => axe.run('#check-it-yourself', {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    return [
        {"id": v["id"], "targets": [n["target"] for n in v["nodes"]]} for v in found["violations"]
    ]


def test_the_page_pins_the_verifier_and_the_rpc(demo_item: DemoItem) -> None:
    view = demo_item.view()
    rpc = view["verify"]["rpcUrl"]  # type: ignore[index]
    assert rpc == demo_item.services.rpc_url  # dev mode: the browser asks the dev chain
    assert _SCRIPT_TAG in demo_item.html
    assert demo_item.html.count("<script") == 2  # and the local-time one (api/page_times.py)
    page = httpx.get(f"{demo_item.api_url}{demo_item.link}", timeout=60)
    assert page.headers["content-security-policy"] == resolver_csp(rpc)
    scripts = f"'{INTEGRITY}' {LOCAL_TIME_SCRIPT_HASH}"
    assert f"script-src {scripts}; connect-src 'self' {rpc};" in resolver_csp(rpc)


def test_in_page_verification_is_green_then_red_for_a_tampered_bundle(
    browser: Any, demo_item: DemoItem
) -> None:
    url = f"{demo_item.api_url}{demo_item.link}"
    bundle = json.loads(httpx.get(f"{url}?format=bundle", timeout=60).text)
    for viewport, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page = page_at(browser, viewport)
        problems: list[str] = []
        page.on("console", lambda m, seen=problems: m.type == "error" and seen.append(m.text))
        page.goto(url)
        assert page.is_visible("#verify-run")  # shown by the script: it ran under the CSP
        assert _run_check(page) == "ok", page.inner_text("#verify-result")
        result = page.inner_text("#verify-result")
        assert "every step is on the blockchain exactly as shown, and final" in result
        assert page.locator("#verify-result li.verify-ok").count() == len(bundle["entries"]) + 1
        assert not problems, problems  # no CSP refusal, no failed request
        assert _panel_violations(page) == []
        screenshot(page, f"verify-panel-green-{name}")
        page.context.close()

    tampered = json.loads(json.dumps(bundle))
    entry = tampered["entries"][1]
    entry["salt"] = entry["salt"][:-1] + ("0" if entry["salt"][-1] != "0" else "1")
    page = page_at(browser, PHONE)
    page.route(
        "**/*format=bundle*",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(tampered)
        ),
    )
    page.goto(url)
    assert _run_check(page) == "failed"
    assert "Not verified" in page.inner_text("#verify-result")
    bad = page.locator("#verify-result li.verify-bad")
    assert bad.count() == 1
    assert "does not match its fingerprint" in bad.inner_text()
    history: list[dict[str, Any]] = demo_item.view()["history"]  # type: ignore[assignment]
    [shown] = [e for e in history if e["leaf"] == entry["leaf"]]
    assert shown["title"] in bad.inner_text()  # the step as the page names it
    assert _panel_violations(page) == []
    screenshot(page, "verify-panel-red-phone")
    page.context.close()


def test_explorer_links_and_no_in_page_check_without_a_public_rpc(demo_item: DemoItem) -> None:
    settings = ApiSettings(
        chaintrace_dev=True,
        database_url=demo_item.database_url,
        deployments_file=demo_item.services.deployments_file,
        explorer_url="https://explorer.example.org/",
        chain_name="Demo chain",
        rate_limit_enabled=False,
    )
    app = create_app(settings, w3=demo_item.services.w3())
    with TestClient(app) as client:
        view = client.get(demo_item.link, headers={"Accept": "application/json"}).json()
        page = client.get(demo_item.link, headers={"Accept": "text/html"})
    verify = view["verify"]
    assert verify["chainName"] == "Demo chain"
    assert verify["explorerTxUrl"] == "https://explorer.example.org/tx/{txHash}"
    assert verify["rpcUrl"] is None
    for entry in view["history"]:
        tx = entry["anchoring"]["txHash"]
        assert entry["anchoring"]["explorerUrl"] == f"https://explorer.example.org/tx/{tx}"
        assert f'href="https://explorer.example.org/tx/{tx}"' in page.text
    assert SCRIPT_PATH not in page.text and page.text.count("<script") == 1  # local time only
    assert "offers no check in the page" in page.text
    assert "Demo chain" in page.text and "verify-bundle" in page.text
    assert page.headers["content-security-policy"] == resolver_csp(None)
    assert "connect-src 'self';" in page.headers["content-security-policy"]
