"""The resolver's per-process answer cache (api/answer_cache.py): an item answer is built once per
RESOLVER_CACHE_SECONDS for each variant of the request, and every request still passes the rate
limit, counts as a scan, gets its own 304 and the security headers. A fake clock stands in for
time (the cache's `clock`), so nothing here waits or depends on the machine's speed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

import api.routes.resolver as resolver_route
from api import resolver_view
from api.answer_cache import AnswerCache
from api.main import create_app
from api.settings import ApiSettings
from store.db import make_engine, session_factory, transaction, upgrade
from tests.api import verdict_states as states
from tests.api.flows import PUBLIC_BASE_URL, Api, auth, ok
from tests.utils.store_factories import make_item, make_product

GTIN = "09506000134376"
ITEM = f"/01/{GTIN}/21/A1"
JSON = {"Accept": "application/json"}


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Shop:
    engine: Engine
    url: str


@pytest.fixture
def shop(sqlite_file_url: str) -> Iterator[Shop]:
    upgrade(sqlite_file_url)
    engine = make_engine(sqlite_file_url)
    with transaction(session_factory(engine)) as session:
        product = make_product(session, GTIN)
        for serial in ("A1", "A2", "A3"):
            make_item(session, product, serial)
    try:
        yield Shop(engine, sqlite_file_url)
    finally:
        engine.dispose()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The serials item_view built an answer for, in order."""
    calls: list[str] = []
    real = resolver_view.item_view

    def counted(session: Any, item: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(item.serial)
        return real(session, item, *args, **kwargs)

    monkeypatch.setattr(resolver_route, "item_view", counted)
    return calls


def make_app(shop: Shop, clock: Clock, **overrides: Any) -> FastAPI:
    settings = ApiSettings(
        database_url=shop.url,
        public_base_url=PUBLIC_BASE_URL,
        redis_url=None,
        **{"resolver_cache_seconds": 1.0, **overrides},
    )
    app = create_app(settings, engine=shop.engine)
    cache(app).clock = clock
    return app


def cache(app: FastAPI) -> AnswerCache:
    answers: AnswerCache = app.state.chaintrace.answers
    return answers


def test_an_answer_is_built_once_per_ttl(shop: Shop, built: list[str]) -> None:
    clock = Clock()
    with TestClient(make_app(shop, clock)) as client:
        first = client.get(ITEM, headers=JSON)
        clock.now += 0.9
        again = client.get(ITEM, headers=JSON)
        assert first.status_code == again.status_code == 200
        assert built == ["A1"]
        assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Link"] == first.headers["Link"]
        assert again.headers["Content-Type"] == first.headers["Content-Type"]
        clock.now += 0.1  # the TTL is over
        assert client.get(ITEM, headers=JSON).status_code == 200
        assert built == ["A1", "A1"]


def test_each_variant_of_a_request_has_its_own_answer(shop: Shop, built: list[str]) -> None:
    clock = Clock()
    variants: list[tuple[str, dict[str, str]]] = [
        (ITEM, JSON),
        (ITEM, {"Accept": "text/html"}),
        (ITEM, {"Accept": "text/html", "Accept-Language": "zh-CN,zh;q=0.9"}),
        (ITEM + "?lang=zh-Hans", {"Accept": "text/html"}),
        (ITEM + "?format=json", {}),
        (ITEM + "?format=json&17=270101", {}),
        (f"/01/{GTIN}/21/A2", JSON),
        (f"/01/{GTIN}/22/V1/21/A1", JSON),  # a key qualifier: another path
    ]
    with TestClient(make_app(shop, clock)) as client:
        answers = [client.get(path, headers=headers) for path, headers in variants]
        assert [a.status_code for a in answers] == [200] * len(variants)
        assert len(built) == len(variants)
        assert "text/html" in answers[1].headers["Content-Type"]
        # The page in Chinese (by header or switch) is not the English one kept before it.
        assert answers[1].content not in (answers[2].content, answers[3].content)
        assert answers[0].json()["item"]["serial"] == "A1"
        assert answers[6].json()["item"]["serial"] == "A2"
        again = [client.get(path, headers=headers) for path, headers in variants]
        assert len(built) == len(variants)  # every one of them kept
        assert [a.content for a in again] == [a.content for a in answers]


def test_errors_are_never_kept(
    shop: Shop, built: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown: list[str | None] = []
    real = resolver_view.unknown_item_view

    def counted(session: Any, gtin: str, chain: Any, serial: str | None, *args: Any) -> Any:
        unknown.append(serial)
        return real(session, gtin, chain, serial, *args)

    monkeypatch.setattr(resolver_route, "unknown_item_view", counted)
    with TestClient(make_app(shop, Clock())) as client:
        for _ in range(2):
            assert client.get(f"/01/{GTIN}/21/NOPE", headers=JSON).status_code == 404
            # No chain: the bundle is a 503, built and refused each time.
            assert client.get(ITEM + "?format=bundle").status_code == 503
        assert unknown == ["NOPE", "NOPE"]
        assert built == ["A1", "A1"]


def test_a_hit_is_a_scan_with_its_own_304_rate_limit_and_headers(
    shop: Shop, built: list[str]
) -> None:
    app = make_app(shop, Clock(), rate_limit_resolver="3/minute")
    with TestClient(app) as client:
        first = client.get(ITEM, headers=JSON)
        etag = first.headers["ETag"]
        revalidated = client.get(ITEM, headers={**JSON, "If-None-Match": etag})
        assert revalidated.status_code == 304 and revalidated.content == b""
        hit = client.get(ITEM, headers={**JSON, "If-None-Match": '"not-this-one"'})
        assert hit.status_code == 200 and hit.headers["ETag"] == etag
        assert built == ["A1"]
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "Cache-Control"):
            assert hit.headers[name] == first.headers[name]
        assert hit.headers["Access-Control-Allow-Origin"] == "*"
        assert app.state.chaintrace.scans.pending == 3  # the miss, the 304 and the hit
        assert client.get(ITEM, headers=JSON).status_code == 429  # kept, still rate limited
        assert app.state.chaintrace.scans.pending == 3


def test_head_and_gzip_are_answered_per_request(shop: Shop, built: list[str]) -> None:
    with TestClient(make_app(shop, Clock())) as client:
        plain = client.get(ITEM, headers={**JSON, "Accept-Encoding": "identity"})
        zipped = client.get(ITEM, headers={**JSON, "Accept-Encoding": "gzip"})
        head = client.head(ITEM, headers={**JSON, "Accept-Encoding": "gzip"})
        assert built == ["A1"]
        assert "content-encoding" not in plain.headers
        assert zipped.headers["Content-Encoding"] == "gzip" and zipped.json() == plain.json()
        assert head.content == b"" and head.headers["ETag"] == zipped.headers["ETag"]


def test_a_ttl_of_0_keeps_nothing(shop: Shop, built: list[str]) -> None:
    app = make_app(shop, Clock(), resolver_cache_seconds=0)
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get(ITEM, headers=JSON).status_code == 200
        assert built == ["A1", "A1", "A1"]
        assert len(cache(app)) == 0


def test_the_cache_is_bounded_least_recently_used_first(shop: Shop, built: list[str]) -> None:
    app = make_app(shop, Clock(), resolver_cache_entries=2)
    with TestClient(app) as client:
        for serial in ("A1", "A2", "A1", "A3", "A1", "A2"):
            assert client.get(f"/01/{GTIN}/21/{serial}", headers=JSON).status_code == 200
        # A1 stayed (used again before A3 came); A2 went when A3 came, so it is built again.
        assert built == ["A1", "A2", "A3", "A2"]
        assert len(cache(app)) == 2


def test_the_ttl_is_bounded(shop: Shop) -> None:
    with pytest.raises(ValidationError, match="resolver_cache_seconds"):
        ApiSettings(database_url=shop.url, resolver_cache_seconds=10.5)
    with pytest.raises(ValueError, match="0-10"):
        AnswerCache(10.5, 10)


def test_a_recall_shows_once_the_ttl_is_over(api: Api) -> None:
    clock = Clock()
    app: Any = api.client.app
    app.state.chaintrace.answers = AnswerCache(2.0, 100, clock)
    item = states.genuine(api, "CACHE1")
    before = ok(api.client.get(item.path, headers=JSON))
    assert before["authentic"]["verdict"] == "genuine"
    key, _, _ = states.brand(api)
    body = states.recall_event([states.item_epc(item.gtin, item.serial)])
    ok(api.client.post("/epcis/events", json=body, headers=auth(key)), 201)
    clock.now += 1.9
    # At most the TTL late: within it the answer built before the recall may still be served.
    assert ok(api.client.get(item.path, headers=JSON)) == before
    clock.now += 0.1
    after = ok(api.client.get(item.path, headers=JSON))
    assert after["authentic"]["verdict"] == "recalled"
