"""The consumer pages' language: negotiated per request (?lang= first, then Accept-Language),
written into <html lang>, offered as a switch, never leaking between concurrent requests, and
part of the cache key (Vary, ETag)."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.requests import Request

from api.page_language import TRANSLATIONS, negotiate, preferred
from api.page_templates import environment, page_language
from tests.api.flows import PREFIX, Api, gtin13

GTIN = gtin13(PREFIX, "77777")
ZH = TRANSLATIONS["zh-Hans"].gettext


@pytest.mark.parametrize(
    ("requested", "accept", "expected"),
    [
        (None, None, "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        (None, "zh-Hans-CN", "zh-Hans"),
        (None, "zh-SG", "zh-Hans"),
        (None, "fr-FR, zh;q=0.5, en;q=0.3", "zh-Hans"),
        (None, "en;q=0.2, zh-cn;q=0.9", "zh-Hans"),
        (None, "zh-TW, en;q=0.5", "en"),  # Traditional readers are not sent Simplified
        (None, "zh-Hant", "en"),
        (None, "zh;q=0, en", "en"),  # q=0: not acceptable
        (None, "de, fr", "en"),
        (None, ";;,q=,zh;q=abc,,", "en"),  # malformed: nothing usable
        ("zh-Hans", "en", "zh-Hans"),  # the switch wins
        ("ZH-hans", None, "zh-Hans"),
        ("en", "zh-CN", "en"),
        ("xx", "zh-CN", "zh-Hans"),  # an unknown ?lang= is ignored
    ],
)
def test_language_negotiation(requested: str | None, accept: str | None, expected: str) -> None:
    assert negotiate(requested, accept) == expected


def test_accept_language_order_follows_q() -> None:
    assert preferred("a;q=0.1, b, c;q=0.5, d;q=0") == ["b", "c", "a"]


def _product_page(api: Api) -> str:
    assert api.chain is not None
    key = api.brand(api.chain.brand)
    api.product(key, GTIN, "Oat milk 1 l")
    return f"/01/{GTIN}"


def test_the_page_is_in_the_negotiated_language_with_a_switch(api: Api) -> None:
    path = _product_page(api)
    english = api.client.get(path, headers={"Accept": "text/html"})
    chinese = api.client.get(path, headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
    assert '<html lang="en">' in english.text and "Product number (GTIN)" in english.text
    assert '<html lang="zh-Hans">' in chinese.text and ZH("Product number (GTIN)") in chinese.text
    assert "Product number (GTIN)" not in chinese.text
    # The switch: a link to the other language, the current one marked, other parameters kept.
    switched = api.client.get(path, params={"lang": "zh-Hans", "format": "html"})
    assert '<html lang="zh-Hans">' in switched.text
    links = dict(re.findall(r'<a href="([^"]+)" lang="([^"]+)"', switched.text))
    assert links == {"?format=html&amp;lang=en": "en"}
    assert '<span lang="zh-Hans" aria-current="true">简体中文</span>' in switched.text


def test_caches_key_on_the_language(api: Api) -> None:
    path = _product_page(api)
    english = api.client.get(path, headers={"Accept": "text/html"})
    chinese = api.client.get(path, headers={"Accept": "text/html", "Accept-Language": "zh"})
    for response in (english, chinese):
        assert response.status_code == 200
        assert "accept-language" in response.headers["Vary"].lower()
    assert english.headers["ETag"] != chinese.headers["ETag"]
    # English's tag does not revalidate the Chinese page, and each revalidates its own.
    cross = {
        "Accept": "text/html",
        "Accept-Language": "zh",
        "If-None-Match": english.headers["ETag"],
    }
    assert api.client.get(path, headers=cross).status_code == 200
    same = {**cross, "If-None-Match": chinese.headers["ETag"]}
    assert api.client.get(path, headers=same).status_code == 304


def test_concurrent_requests_in_two_languages_each_get_their_own(api: Api) -> None:
    path = _product_page(api)
    app = api.client.app

    async def many() -> list[tuple[str, httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            languages = ["zh-CN", "en"] * 60
            # At most 10 at a time: under the store's connection pool (5 + 10 overflow).
            gate = asyncio.Semaphore(10)

            async def one(language: str) -> tuple[str, httpx.Response]:
                headers = {"Accept": "text/html", "Accept-Language": language}
                async with gate:
                    return language, await client.get(path, headers=headers)

            return await asyncio.gather(*(one(lang) for lang in languages))

    # The endpoints are sync: Starlette runs them in its thread pool, so renders overlap. The
    # loop runs in a thread of its own (a session's Playwright may hold this one's).
    with ThreadPoolExecutor(1) as pool:
        answers = pool.submit(asyncio.run, many()).result()
    label = "Product number (GTIN)"
    for language, response in answers:
        assert response.status_code == 200
        page = response.text
        if language == "en":
            assert '<html lang="en">' in page and label in page and ZH(label) not in page
        else:
            assert '<html lang="zh-Hans">' in page and ZH(label) in page and label not in page


def _request(accept_language: str) -> Request:
    headers = [(b"accept-language", accept_language.encode())]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": headers}
    )


def test_a_render_keeps_its_language_whatever_another_request_does_meanwhile() -> None:
    """Deterministic interleavings of two requests in one process: B's language is chosen
    between A's and A's render, and A's render is paused half-way while B renders whole."""
    template = environment.get_template("report_refused.html")
    english_context = {**page_language(_request("en")), "detail": "x", "status": 429}
    chinese_context = {**page_language(_request("zh-CN")), "detail": "x", "status": 429}
    english = template.generate(english_context)
    rest = next(english)
    chinese = "".join(template.generate(chinese_context))
    rest += "".join(english)
    assert ZH("Too many reports from here for now") in chinese
    assert ZH("Go back to the code's page to try again later.") in chinese
    assert "Too many reports from here for now" in rest
    assert "Go back to the code's page to try again later." in rest
    assert not re.search(r"[\u4e00-\u9fff]", rest.replace("简体中文", ""))  # the switch's label
