"""Content writes spend the brand's write budget like every write; bodies are bounded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.limits import MAX_BODY_BYTES
from api.main import create_app
from api.schemas.product_content import IMAGE_DATA_MAX_LEN
from api.settings import ApiSettings
from store.db import make_engine, session_factory, transaction, upgrade
from store.principals import create_api_key
from tests.api.flows import PUBLIC_BASE_URL, auth
from tests.utils.store_factories import make_product

GTIN = "09506000134352"


@pytest.fixture
def brand_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        product = make_product(session, GTIN)
        key = create_api_key(session, product.brand.principal_id)
    settings = ApiSettings(
        database_url=url,
        public_base_url=PUBLIC_BASE_URL,
        redis_url=None,
        trusted_proxies=(),
        rate_limit_writes="2/minute",
    )
    try:
        with TestClient(create_app(settings, engine=engine), client=("203.0.113.7", 1)) as client:
            yield client, key
    finally:
        engine.dispose()


def test_content_writes_are_rate_limited_per_brand(brand_client: tuple[TestClient, str]) -> None:
    client, key = brand_client
    url = f"/products/{GTIN}/content"
    assert client.put(f"{url}/en", json={"name": "Tea"}, headers=auth(key)).status_code == 200
    assert client.delete(f"{url}/en", headers=auth(key)).status_code == 204
    refused = client.put(f"{url}/en", json={"name": "Tea"}, headers=auth(key))
    assert refused.status_code == 429 and "writes" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get(url, headers=auth(key)).json() == []  # reads still pass; nothing stored


def test_bodies_and_images_are_bounded_before_decoding(
    brand_client: tuple[TestClient, str],
) -> None:
    client, key = brand_client
    url = f"/products/{GTIN}/content/en"
    image = {"mediaType": "image/png", "data": "A" * (IMAGE_DATA_MAX_LEN + 4)}
    reply = client.put(url, json={"name": "Tea", "image": image}, headers=auth(key))
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "image", "data"]
    huge = {"name": "Tea", "description": "x" * MAX_BODY_BYTES}
    assert client.put(url, json=huge, headers=auth(key)).status_code == 413
