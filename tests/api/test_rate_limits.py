"""Rate limits: 429 + Retry-After per client (resolver, QR, auth failures) and per key (writes).

Every limit is spent for real through the app; Redis sharing is checked across two
`chaintrace api` processes; X-Forwarded-For counts only from TRUSTED_PROXIES.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from api import rate_limit
from api.main import create_app
from api.rate_limit import RateLimits, client_identity
from api.settings import ApiSettings
from core.gs1 import check_digit
from store import principal_for_key
from store.db import make_engine, session_factory, transaction, upgrade
from store.models import Brand, Product, Role
from store.principals import create_api_key, create_principal
from tests.api.flows import PUBLIC_BASE_URL, auth
from tests.utils.mosquitto import free_port
from tests.utils.redis_server import (  # noqa: F401 (redis_url, private_redis: fixtures)
    RedisServer,
    private_redis,
    redis_url,
    unique_prefix,
)
from tests.utils.store_factories import make_item, make_product

GTIN = "09506000134352"
ITEM = f"/01/{GTIN}/21/RL1"
ITEM_JSON = f"{ITEM}?format=json"
QR = f"/qr{ITEM}"
# Deadline for a window to roll over or a process to start: not a timing assertion.
DEADLINE_S = 60.0
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Store:
    """A migrated SQLite database with one item and an admin key."""

    engine: Engine
    url: str
    admin_key: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ratelimits') / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        make_item(session, make_product(session, GTIN), "RL1")
        admin = create_principal(session, "rate-limit admin", Role.ADMIN)
        key = create_api_key(session, admin.id)
    try:
        yield Store(engine, url, key)
    finally:
        engine.dispose()


def make_app(store: Store, **overrides: Any) -> FastAPI:
    """The app on `store` without Redis unless given (REDIS_URL from the environment ignored)."""
    values: dict[str, Any] = {
        "database_url": store.url,
        "public_base_url": PUBLIC_BASE_URL,
        "redis_url": None,
        "trusted_proxies": (),
        **overrides,
    }
    return create_app(ApiSettings(**values), engine=store.engine)


@contextmanager
def client_at(app: FastAPI, host: str) -> Iterator[TestClient]:
    """A TestClient whose socket peer is `host`."""
    with TestClient(app, client=(host, 40_000)) as client:
        yield client


def assert_429(response: httpx.Response, bucket: str, window_s: int) -> None:
    """A rate-limit refusal naming the bucket, with a Retry-After within the window."""
    assert response.status_code == 429, (response.status_code, response.text)
    assert bucket in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= window_s


def new_admin_key(store: Store, name: str) -> str:
    with transaction(session_factory(store.engine)) as session:
        return create_api_key(session, create_principal(session, name, Role.ADMIN).id)


def test_resolver_answers_429_with_retry_after_per_client(store: Store) -> None:
    app = make_app(store, rate_limit_resolver="3/minute")
    with client_at(app, "203.0.113.10") as first, client_at(app, "203.0.113.11") as second:
        for path in (ITEM_JSON, ITEM, f"/01/{GTIN}/10/LOT1/21/RL1"):  # every resolver route
            assert first.get(path).status_code == 200
        assert_429(first.get(ITEM_JSON), "resolver", 60)
        assert_429(first.get(ITEM), "resolver", 60)
        # One client's spent budget is not another's, nor the QR budget.
        assert second.get(ITEM_JSON).status_code == 200
        assert first.get(QR).status_code == 200


def test_qr_answers_429_with_retry_after_per_client(store: Store) -> None:
    app = make_app(store, rate_limit_qr="2/minute")
    with client_at(app, "203.0.113.20") as first, client_at(app, "203.0.113.21") as second:
        for _ in range(2):
            reply = first.get(QR)
            assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
        assert_429(first.get(QR), "qr", 60)
        assert second.get(QR).status_code == 200
        assert first.get(ITEM_JSON).status_code == 200


def test_writes_are_limited_per_api_key(store: Store) -> None:
    app = make_app(store, rate_limit_writes="3/minute")
    other_key = new_admin_key(store, "second admin")
    with client_at(app, "203.0.113.30") as client:
        for n in range(3):
            body = {"name": f"carrier-w{n}", "role": "carrier"}
            assert client.post("/principals", json=body, headers=auth(store.admin_key)).is_success
        extra = {"name": "one too many", "role": "carrier"}
        refused = client.post("/principals", json=extra, headers=auth(store.admin_key))
        assert_429(refused, "writes", 60)
        # A second key of the same principal shares its budget.
        with transaction(session_factory(store.engine)) as session:
            principal = principal_for_key(session, store.admin_key)
            assert principal is not None
            same_principal_key = create_api_key(session, principal.id)
        refused = client.post("/principals", json=extra, headers=auth(same_principal_key))
        assert_429(refused, "writes", 60)
        # Reads with the same key still pass; another principal's key, same client, still writes.
        assert client.get("/principals", headers=auth(store.admin_key)).status_code == 200
        body = {"name": "other key's carrier", "role": "carrier"}
        assert client.post("/principals", json=body, headers=auth(other_key)).status_code == 201


def test_wrong_keys_are_limited_per_client_and_a_right_key_still_works(store: Store) -> None:
    app = make_app(store, rate_limit_auth_failures="5/minute")
    with client_at(app, "203.0.113.40") as guesser, client_at(app, "203.0.113.41") as other:
        for n in range(5):
            assert guesser.get("/principals", headers=auth(f"ct_wrong{n}")).status_code == 401
        assert_429(guesser.get("/principals", headers=auth("ct_wrong")), "auth-failures", 60)
        assert_429(guesser.post("/principals", json={}, headers=auth("ct_x")), "auth-failures", 60)
        # A right key from the same address is not locked out by the failures (one NAT or
        # proxy address is many users); another client's budget is untouched.
        assert guesser.get("/principals", headers=auth(store.admin_key)).status_code == 200
        assert other.get("/principals", headers=auth("ct_wrong")).status_code == 401
        assert other.get("/principals", headers=auth(store.admin_key)).status_code == 200


def test_keyless_requests_cannot_lock_out_the_users_of_an_address(store: Store) -> None:
    app = make_app(store)  # defaults: 20 failures a minute per client
    with client_at(app, "203.0.113.42") as shared:
        assert {shared.get("/principals/me").status_code for _ in range(50)} == {401}
        assert shared.get("/principals/me", headers=auth(store.admin_key)).status_code == 200


def test_the_default_limits_stop_a_burst_of_bad_keys(store: Store) -> None:
    app = make_app(store)  # defaults: 20 failures a minute per client
    with client_at(app, "203.0.113.50") as guesser:
        codes = [
            guesser.get("/principals", headers=auth(f"ct_guess{n}")).status_code for n in range(100)
        ]
    assert codes.count(401) == 20 and codes.count(429) == 80


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(store: Store) -> None:
    app = make_app(store, rate_limit_resolver="3/minute", trusted_proxies="10.0.0.0/8")
    with client_at(app, "203.0.113.60") as client:
        for n in range(3):
            spoof = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert client.get(ITEM_JSON, headers=spoof).status_code == 200
        assert_429(
            client.get(ITEM_JSON, headers={"X-Forwarded-For": "198.51.100.99"}), "resolver", 60
        )


def test_a_trusted_proxy_forwarded_for_is_read_right_to_left(store: Store) -> None:
    app = make_app(store, rate_limit_resolver="3/minute", trusted_proxies="10.0.0.0/8, ::1")
    with client_at(app, "10.0.0.2") as proxy:
        # Distinct clients behind the proxy each have their own budget.
        for n in range(6):
            forwarded = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert proxy.get(ITEM_JSON, headers=forwarded).status_code == 200
        # What a client writes left of its own address (appended by the proxy) changes nothing.
        for n in range(3):
            forwarded = {"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.77"}
            assert proxy.get(ITEM_JSON, headers=forwarded).status_code == 200
        forwarded = {"X-Forwarded-For": "192.0.2.200, 198.51.100.77"}
        assert_429(proxy.get(ITEM_JSON, headers=forwarded), "resolver", 60)
        # A chain of trusted proxies is skipped: the client is 198.51.100.77 again.
        forwarded = {"X-Forwarded-For": "198.51.100.77, 10.0.0.9"}
        assert_429(proxy.get(ITEM_JSON, headers=forwarded), "resolver", 60)


def test_client_identity() -> None:
    trusted = [ip_network("10.0.0.0/8")]
    assert client_identity("203.0.113.1", ["198.51.100.1"], trusted) == "203.0.113.1"
    assert client_identity("10.0.0.1", [], trusted) == "10.0.0.1"
    assert client_identity("10.0.0.1", ["a, 198.51.100.1", "10.0.0.3"], trusted) == "198.51.100.1"
    assert client_identity("10.0.0.1", ["198.51.100.1:4711"], trusted) == "198.51.100.1"
    assert client_identity("10.0.0.1", ["[2001:db8::1]:443"], trusted) == "2001:db8::/64"
    # An entry that is no address stops the walk at the proxy that wrote it.
    assert client_identity("10.0.0.1", ["198.51.100.1, junk"], trusted) == "10.0.0.1"
    # IPv6 clients count per /64; IPv4-mapped ones as IPv4.
    assert client_identity("2001:db8:1:2:3::9", [], trusted) == "2001:db8:1:2::/64"
    assert client_identity("::ffff:198.51.100.5", [], trusted) == "198.51.100.5"
    assert client_identity(None, [], trusted) == "unknown"


def test_a_window_frees_up_again(store: Store) -> None:
    # 8 s: the third request must come within the window of the first even on a loaded machine.
    app = make_app(store, rate_limit_resolver="2/8 seconds")
    with client_at(app, "203.0.113.70") as client:
        assert [client.get(ITEM_JSON).status_code for _ in range(2)] == [200, 200]
        assert_429(client.get(ITEM_JSON), "resolver", 8)
        deadline = time.monotonic() + DEADLINE_S
        while (status := client.get(ITEM_JSON).status_code) == 429:
            assert time.monotonic() < deadline, "the moving window never freed a slot"
            time.sleep(0.2)
        assert status == 200


def test_the_switch_turns_every_limit_off(store: Store) -> None:
    one = "1/minute"
    app = make_app(
        store,
        rate_limit_enabled=False,
        rate_limit_resolver=one,
        rate_limit_qr=one,
        rate_limit_writes=one,
        rate_limit_auth_failures=one,
    )
    with client_at(app, "203.0.113.80") as client:
        assert {client.get(ITEM_JSON).status_code for _ in range(3)} == {200}
        assert {client.get(QR).status_code for _ in range(3)} == {200}
        assert {client.get("/principals", headers=auth("ct_x")).status_code for _ in range(3)} == {
            401
        }


def test_settings_refuse_bad_limits_proxies_and_redis_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    bad: tuple[tuple[str, Any], ...] = (
        ("rate_limit_resolver", "120/fortnight"),
        ("rate_limit_writes", "many"),
        ("rate_limit_code_reports", "5/eon"),
        ("trusted_proxies", "10.0.0.0/8, not-an-ip"),
        ("redis_url", "http://127.0.0.1:6379"),
    )
    for field, value in bad:
        with pytest.raises(ValidationError, match=field):
            ApiSettings(chaintrace_dev=True, **{field: value})
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32,192.0.2.7")
    monkeypatch.setenv("RATE_LIMIT_QR", "5/second;100/hour")
    settings = ApiSettings(chaintrace_dev=True)
    assert [str(net) for net in settings.trusted_proxies] == [
        "10.0.0.0/8",
        "2001:db8::/32",
        "192.0.2.7/32",
    ]
    assert settings.rate_limit_qr == "5/second;100/hour"


def test_two_apps_on_one_redis_share_the_budget(store: Store, redis_url: str) -> None:  # noqa: F811
    shared = {"redis_url": redis_url, "rate_limit_key_prefix": unique_prefix()}
    first = make_app(store, rate_limit_resolver="4/minute", **shared)
    second = make_app(store, rate_limit_resolver="4/minute", **shared)
    with client_at(first, "203.0.113.90") as a, client_at(second, "203.0.113.90") as b:
        assert [c.get(ITEM_JSON).status_code for c in (a, b, a, b)] == [200] * 4
        assert_429(a.get(ITEM_JSON), "resolver", 60)
        assert_429(b.get(ITEM_JSON), "resolver", 60)


def test_without_redis_each_process_counts_on_its_own_and_warns(
    store: Store,
    private_redis: RedisServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(rate_limit, "REDIS_RETRY_S", 0.0)  # try Redis on every request
    prefix = unique_prefix()
    app = make_app(
        store,
        rate_limit_resolver="3/minute",
        redis_url=private_redis.url,
        rate_limit_key_prefix=prefix,
    )
    limits: RateLimits = app.state.chaintrace.rate_limits
    keys = redis.Redis.from_url(private_redis.url)
    with client_at(app, "203.0.113.100") as client, caplog.at_level(logging.WARNING):
        assert client.get(ITEM_JSON).status_code == 200
        assert keys.keys(f"{prefix}*"), "the first request was not counted in Redis"
        keys.close()
        port = private_redis.port
        private_redis.stop()
        # Redis is down: no 500, no free pass: this process's own budget (3) decides.
        codes = [client.get(ITEM_JSON).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert "Redis unreachable" in caplog.text
        assert limits.storage_errors >= 4 and limits.fallback_decisions >= 4
        metrics = client.get("/metrics", headers=auth(store.admin_key)).text
        errors = float(limits.storage_errors)
        assert f"chaintrace_rate_limit_storage_errors_total {errors}" in metrics
        assert 'chaintrace_rate_limited_total{bucket="resolver"} 1.0' in metrics
        # Back up (empty: it kept nothing): Redis decides again, from a fresh window.
        private_redis.start(port)
        assert client.get(ITEM_JSON).status_code == 200
        assert "Redis answers again" in caplog.text
        keys = redis.Redis.from_url(private_redis.url)
        assert keys.keys(f"{prefix}*")
        keys.close()


@contextmanager
def api_process(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`chaintrace api` as its own process on a free port; yields its base URL."""
    cli = Path(sys.executable).parent / "chaintrace"
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(cli), "api"], env={**env, "API_PORT": str(port)}, stdout=log, stderr=log, cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "chaintrace api did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def test_two_api_processes_share_one_redis_budget(
    store: Store,
    redis_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RATE_LIMIT_", "CHAIN", "TRUSTED_", "REDIS_", "FORWARDED_"))
    }
    env.update(
        DATABASE_URL=store.url,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        API_HOST="127.0.0.1",
        REDIS_URL=redis_url,
        RATE_LIMIT_KEY_PREFIX=unique_prefix(),
        RATE_LIMIT_RESOLVER="4/minute",
        DEPLOYMENTS_FILE=str(tmp_path / "none.json"),
    )
    with (
        api_process(env, tmp_path / "a.log") as a,
        api_process(env, tmp_path / "b.log") as b,
    ):
        codes = [httpx.get(base + ITEM_JSON, timeout=10).status_code for base in (a, b, a, b)]
        assert codes == [200] * 4
        for base in (a, b):
            assert_429(httpx.get(base + ITEM_JSON, timeout=10), "resolver", 60)
        # uvicorn's own proxy-header handling is off: a spoofed X-Forwarded-For from this
        # (untrusted) loopback peer does not buy a fresh budget.
        spoofed = httpx.get(
            a + ITEM_JSON, headers={"X-Forwarded-For": "198.51.100.200"}, timeout=10
        )
        assert_429(spoofed, "resolver", 60)


def test_link_registry_writes_spend_the_brands_write_budget(store: Store) -> None:
    app = make_app(store, rate_limit_writes="2/minute")
    prefix = "0712346"
    body = "0" + prefix + "00001"
    gtin = body + check_digit(body)
    with transaction(session_factory(store.engine)) as session:
        principal = create_principal(session, "link writer", Role.BRAND)
        brand = Brand(principal_id=principal.id, company_prefix=prefix, name="Link writer")
        session.add(brand)
        session.flush()
        session.add(Product(brand_id=brand.id, gtin=gtin, name="Linked"))
        key = create_api_key(session, principal.id)
    link = {"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "Page"}
    with client_at(app, "203.0.113.35") as client:
        for _ in range(2):
            reply = client.post(f"/products/{gtin}/links", json=link, headers=auth(key))
            assert reply.status_code == 201, reply.text
        assert_429(
            client.post(f"/products/{gtin}/links", json=link, headers=auth(key)), "writes", 60
        )
        assert_429(client.delete("/links/1", headers=auth(key)), "writes", 60)
        # Reading the links is not a write.
        listed = client.get(f"/products/{gtin}/links", headers=auth(key))
        assert listed.status_code == 200 and len(listed.json()) == 2
