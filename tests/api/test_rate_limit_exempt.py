"""RATE_LIMIT_EXEMPT: the listed clients' per-client limits are lifted (a load generator, a
probe); everyone else is still limited, and nobody's per-principal write budget is lifted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from api.main import create_app
from api.settings import ApiSettings
from store.db import make_engine, session_factory, transaction, upgrade
from store.models import Role
from store.principals import create_api_key, create_principal
from tests.api.flows import PUBLIC_BASE_URL, auth
from tests.utils.store_factories import make_item, make_product

GTIN = "09506000134369"
ITEM_JSON = f"/01/{GTIN}/21/EX1?format=json"
QR = f"/qr/01/{GTIN}/21/EX1"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('exempt') / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        make_item(session, make_product(session, GTIN), "EX1")
        key = create_api_key(session, create_principal(session, "admin", Role.ADMIN).id)
    try:
        yield url, engine, key
    finally:
        engine.dispose()


def make_app(store: tuple[str, Engine, str], **overrides: Any) -> FastAPI:
    url, engine, _ = store
    settings = ApiSettings(
        database_url=url, public_base_url=PUBLIC_BASE_URL, redis_url=None, **overrides
    )
    return create_app(settings, engine=engine)


@contextmanager
def client_at(app: FastAPI, host: str) -> Iterator[TestClient]:
    with TestClient(app, client=(host, 40_000)) as client:
        yield client


ONE = "1/minute"
TIGHT = {
    "rate_limit_resolver": ONE,
    "rate_limit_qr": ONE,
    "rate_limit_auth_failures": ONE,
    "rate_limit_writes": ONE,
}


@pytest.mark.parametrize(
    ("exempt", "inside", "outside"),
    [
        ("198.51.100.0/29, 192.0.2.9", "198.51.100.5", "198.51.100.9"),
        ("2001:db8:1::/48", "2001:db8:1:2::5", "2001:db8:2::5"),
    ],
)
def test_exempt_clients_are_not_limited_and_others_still_are(
    store: tuple[str, Engine, str], exempt: str, inside: str, outside: str
) -> None:
    app = make_app(store, rate_limit_exempt=exempt, **TIGHT)
    with client_at(app, inside) as lifted, client_at(app, outside) as other:
        assert {lifted.get(ITEM_JSON).status_code for _ in range(4)} == {200}
        assert {lifted.get(QR).status_code for _ in range(4)} == {200}
        assert {lifted.get("/principals", headers=auth("ct_x")).status_code for _ in range(4)} == {
            401
        }
        assert other.get(ITEM_JSON).status_code == 200
        assert other.get(ITEM_JSON).status_code == 429
        assert other.get(QR).status_code == 200
        assert other.get(QR).status_code == 429
        assert other.get("/principals", headers=auth("ct_x")).status_code == 401
        assert other.get("/principals", headers=auth("ct_x")).status_code == 429
        # A principal's writes are its own budget wherever it writes from.
        key = _admin_key(store, inside)
        body = {"name": f"carrier-{inside}", "role": "carrier"}
        assert lifted.post("/principals", json=body, headers=auth(key)).status_code == 201
        body = {"name": f"carrier-{inside}-2", "role": "carrier"}
        assert lifted.post("/principals", json=body, headers=auth(key)).status_code == 429


def _admin_key(store: tuple[str, Engine, str], name: str) -> str:
    with transaction(session_factory(store[1])) as session:
        return create_api_key(session, create_principal(session, name, Role.ADMIN).id)


def test_the_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("10.0.0.0/8, not-an-ip", "::1", "2001:db8::/96"):
        with pytest.raises(ValidationError, match="rate_limit_exempt"):
            ApiSettings(chaintrace_dev=True, **{"rate_limit_exempt": bad})
    monkeypatch.setenv("RATE_LIMIT_EXEMPT", "127.0.0.1, 10.1.0.0/16,2001:db8::/64")
    settings = ApiSettings(chaintrace_dev=True)
    assert [str(n) for n in settings.rate_limit_exempt] == [
        "127.0.0.1/32",
        "10.1.0.0/16",
        "2001:db8::/64",
    ]
    assert ApiSettings(chaintrace_dev=True, **{"rate_limit_exempt": ""}).rate_limit_exempt == ()
