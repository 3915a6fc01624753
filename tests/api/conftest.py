"""Fixtures of the API tests: the app on SQLite and PostgreSQL, a real anvil, an admin key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.settings import ApiSettings
from chain.toolchain.deploy import save_deployment
from store.db import make_engine, session_factory, transaction, upgrade
from store.models import Role
from store.principals import create_api_key, create_principal
from tests.api.flows import PUBLIC_BASE_URL, Api, World, build_world
from tests.utils.anvil import (  # noqa: F401 (anvil_node, chain_env: pytest fixtures)
    ChainEnv,
    anvil_node,
    chain_env,
    revert,
    snapshot,
)


@pytest.fixture(scope="session")
def deployments_file(chain_env: ChainEnv, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """The deployments file naming the session's contracts."""
    path = tmp_path_factory.mktemp("deployments") / "deployments.json"
    save_deployment(chain_env.deployment, path)
    return path


@pytest.fixture
def env(chain_env: ChainEnv) -> Iterator[ChainEnv]:  # noqa: F811
    """The deployed chain; every change a test makes is reverted after it."""
    snap = snapshot(chain_env.w3)
    try:
        yield chain_env
    finally:
        revert(chain_env.w3, snap)


@pytest.fixture
def api_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database (SQLite, then PostgreSQL)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _bootstrap_admin(engine: Engine) -> str:
    """What `chaintrace` does once: an admin principal and its key, straight into the store."""
    with transaction(session_factory(engine)) as session:
        admin = create_principal(session, "platform admin", Role.ADMIN)
        return create_api_key(session, admin.id, "bootstrap")


@pytest.fixture
def api(api_engine: Engine, env: ChainEnv, deployments_file: Path) -> Iterator[Api]:
    """The app with a chain, as TestClient plus the admin key and the chain's accounts."""
    settings = ApiSettings(
        database_url=str(api_engine.url.render_as_string(hide_password=False)),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=deployments_file,
    )
    app = create_app(settings, engine=api_engine, w3=env.w3)
    with TestClient(app) as client:
        yield Api(client, _bootstrap_admin(api_engine), env, api_engine)


@pytest.fixture
def api_no_chain(api_engine: Engine, tmp_path: Path) -> Iterator[Api]:
    """The app without a chain: store-only endpoints work, chain ones answer 503."""
    settings = ApiSettings(
        database_url=str(api_engine.url.render_as_string(hide_password=False)),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=tmp_path / "none.json",
    )
    app = create_app(settings, engine=api_engine)
    with TestClient(app) as client:
        yield Api(client, _bootstrap_admin(api_engine), None, api_engine)


@pytest.fixture
def world(api: Api) -> World:
    """A brand, commissioned items, carriers, a buyer and one shipment."""
    return build_world(api)
