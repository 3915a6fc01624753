"""Scan counts: every resolver answer for a known item (page or JSON, 200 or 304) is one scan of
that item on that UTC day, buffered and flushed in batches; only the item's brand reads them,
and no public answer changes with them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.main import create_app
from api.scan_counter import ScanCounter
from api.settings import ApiSettings
from store.db import make_engine, session_factory, sqlite_url, transaction
from store.models import Brand, ScanCount
from store.models.types import Role, utcnow
from store.principals import create_api_key, create_principal
from tests.api.flows import PUBLIC_BASE_URL, auth
from tests.utils.store_factories import make_item, make_product

GTIN = "09506000134376"
OTHER_GTIN = "09506000134383"


@dataclass
class Shop:
    engine: Engine
    url: str
    brand_key: str
    other_brand_key: str
    carrier_key: str


@pytest.fixture
def shop(db_url: str) -> Iterator[Shop]:
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        product = make_product(session, GTIN)
        for serial in ("A1", "A2", "A3"):
            make_item(session, product, serial)
        other = make_product(session, OTHER_GTIN)
        make_item(session, other, "B1")
        brand = session.get(Brand, product.brand_id)
        other_brand = session.get(Brand, other.brand_id)
        assert brand is not None and other_brand is not None
        keys = [create_api_key(session, b.principal_id) for b in (brand, other_brand)]
        carrier = create_principal(session, "carrier", Role.CARRIER)
        keys.append(create_api_key(session, carrier.id))
    try:
        yield Shop(engine, db_url, *keys)
    finally:
        engine.dispose()


def make_app(shop: Shop, **overrides: Any) -> FastAPI:
    settings = ApiSettings(
        database_url=shop.url, public_base_url=PUBLIC_BASE_URL, redis_url=None, **overrides
    )
    return create_app(settings, engine=shop.engine)


def counter(app: FastAPI) -> ScanCounter:
    scans: ScanCounter = app.state.chaintrace.scans
    return scans


def scans(client: TestClient, key: str, gtin: str = GTIN, **query: str) -> Any:
    return client.get(f"/products/{gtin}/scans", params=query, headers=auth(key))


def test_each_answer_for_a_known_item_is_one_scan_of_it_that_day(shop: Shop) -> None:
    app = make_app(shop, scan_flush_seconds=3600)  # flushed by hand below, or at shutdown
    item = f"/01/{GTIN}/21/A1"
    with TestClient(app) as client:
        page = client.get(item, headers={"Accept": "text/html"})
        as_json = client.get(item, headers={"Accept": "application/json"})
        assert page.status_code == as_json.status_code == 200
        again = client.get(
            item, headers={"Accept": "application/json", "If-None-Match": as_json.headers["ETag"]}
        )
        assert again.status_code == 304
        assert client.get(f"/01/{GTIN}/21/A2?format=json").status_code == 200
        # No scan: an unknown serial, a product or lot link, another brand's item counts for it.
        assert client.get(f"/01/{GTIN}/21/NOPE?format=json").status_code == 404
        assert client.get(f"/01/{GTIN}?format=json").status_code == 200
        assert client.get(f"/01/{OTHER_GTIN}/21/B1?format=json").status_code == 200
        assert client.head(item).status_code == 200  # a HEAD is no scan
        assert counter(app).pending == 5
        assert scans(client, shop.brand_key).json()["total"] == 0  # not flushed yet
        assert counter(app).flush() == 5
        today = utcnow().date()
        body = scans(client, shop.brand_key).json()
        assert body == {
            "gtin": GTIN,
            "serial": None,
            "from": (today - timedelta(days=29)).isoformat(),
            "to": today.isoformat(),
            "total": 4,
            "days": [{"date": today.isoformat(), "scans": 4, "items": 2}],
        }
        one = scans(client, shop.brand_key, serial="A1").json()
        assert (one["serial"], one["total"], one["days"][0]["items"]) == ("A1", 3, 1)
        assert scans(client, shop.brand_key, serial="A3").json()["days"] == []
        earlier = today - timedelta(days=3)
        quiet = scans(
            client, shop.brand_key, **{"from": earlier.isoformat(), "to": earlier.isoformat()}
        )
        assert quiet.json()["total"] == 0
        assert scans(client, shop.other_brand_key, OTHER_GTIN).json()["total"] == 1
        client.get(item, headers={"Accept": "application/json"})
    # The app's shutdown flushed the last scan; flushes add up, never overwrite.
    with transaction(session_factory(shop.engine)) as session:
        stored = session.scalars(select(func.sum(ScanCount.scans))).one()
    assert stored == 6


def test_only_the_products_brand_reads_its_scans(shop: Shop) -> None:
    with TestClient(make_app(shop)) as client:
        assert scans(client, shop.brand_key).status_code == 200
        assert client.get(f"/products/{GTIN}/scans").status_code == 401
        assert scans(client, shop.carrier_key).status_code == 403
        assert scans(client, shop.other_brand_key).status_code == 403  # as every /products route
        assert scans(client, shop.brand_key, "09506000134390").status_code == 404
        bad = scans(client, shop.brand_key, **{"from": "2026-02-02", "to": "2026-02-01"})
        assert bad.status_code == 422
        bad = scans(client, shop.brand_key, **{"from": "2025-01-01", "to": "2026-01-02"})
        assert bad.status_code == 422
        assert (
            scans(client, shop.brand_key, **{"from": "2025-01-02", "to": "2026-01-02"}).status_code
            == 200
        )


def test_public_answers_do_not_change_with_scans(shop: Shop) -> None:
    app = make_app(shop)
    with TestClient(app) as client:
        first = client.get(f"/01/{GTIN}/21/A1?format=json")
        page = client.get(f"/01/{GTIN}/21/A1")
        for _ in range(3):
            client.get(f"/01/{GTIN}/21/A1?format=json")
        assert counter(app).flush() == 5
        assert client.get(f"/01/{GTIN}/21/A1?format=json").headers["ETag"] == first.headers["ETag"]
        assert client.get(f"/01/{GTIN}/21/A1").headers["ETag"] == page.headers["ETag"]
        assert client.get(f"/products/{GTIN}/scans").status_code == 401


def test_counting_can_be_turned_off(shop: Shop) -> None:
    app = make_app(shop, scan_counting_enabled=False)
    with TestClient(app) as client:
        assert client.get(f"/01/{GTIN}/21/A1?format=json").status_code == 200
        assert counter(app).pending == 0
    with transaction(session_factory(shop.engine)) as session:
        assert session.scalar(select(func.count()).select_from(ScanCount)) == 0


def test_the_buffer_is_bounded_and_a_failed_flush_keeps_its_counts(tmp_path: Path) -> None:
    unmigrated = make_engine(sqlite_url(tmp_path / "empty.db"))
    try:
        broken = ScanCounter(
            session_factory(unmigrated), enabled=True, flush_seconds=60, max_keys=2
        )
        for item_id in (1, 1, 2, 3):
            broken.count(item_id)
        assert (broken.pending, broken.dropped) == (3, 1)  # item 3 was a third key
        assert broken.flush() == 0 and broken.flush_errors == 1
        assert broken.pending == 3  # kept for the next flush
    finally:
        unmigrated.dispose()
