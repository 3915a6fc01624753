"""The API as a process entry point: run() in a thread serves real HTTP until stop()."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from api.main import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from store.db import session_factory, transaction
from store.models import Role
from store.principals import create_api_key, create_principal
from tests.api.flows import PUBLIC_BASE_URL, Api, auth, ok
from tests.utils.anvil import ChainEnv


def _admin_key(engine: Engine) -> str:
    with transaction(session_factory(engine)) as session:
        admin = create_principal(session, "admin", Role.ADMIN)
        return create_api_key(session, admin.id)


def test_run_serves_until_stop(api_engine: Engine) -> None:
    settings = ApiSettings(
        database_url=api_engine.url.render_as_string(hide_password=False),
        public_base_url=PUBLIC_BASE_URL,
        api_port=0,
    )
    server = ApiServer(settings, engine=api_engine)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a deadline for a loaded machine, not a timing check
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    reply = httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
    assert reply.status_code == 200 and reply.json()["database"] == "ok"
    server.stop()
    thread.join(timeout=60)
    assert not thread.is_alive()


def test_settings_refuse_missing_urls_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL, PUBLIC_BASE_URL"):
        ApiSettings(chaintrace_dev=False, database_url=None, public_base_url=None)
    with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
        ApiSettings(database_url="sqlite://", public_base_url="ftp://example.com")
    dev = ApiSettings(chaintrace_dev=True, database_url=None, public_base_url=None)
    assert dev.base_url == "http://127.0.0.1:8000"


def test_a_given_deployment_replaces_the_deployments_file(
    api_engine: Engine, env: ChainEnv, tmp_path: Path
) -> None:
    settings = ApiSettings(
        database_url=api_engine.url.render_as_string(hide_password=False),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=tmp_path / "absent.json",
    )
    admin_key = _admin_key(api_engine)
    params = {"address": env.stranger.address}
    with TestClient(create_app(settings, engine=api_engine, w3=env.w3)) as client:
        key = Api(client, admin_key, env, api_engine).principal("carrier", env.payee.address)
        missing = client.get("/devices/registration-typed-data", params=params, headers=auth(key))
        assert missing.status_code == 503 and "absent.json" in missing.json()["detail"]
    app = create_app(settings, engine=api_engine, w3=env.w3, deployment=env.deployment)
    with TestClient(app) as client:
        url = "/devices/registration-typed-data"
        typed = ok(client.get(url, params=params, headers=auth(key)))
        assert typed["domain"]["verifyingContract"] == env.deployment.trace_anchor
