"""The API served over real HTTP (uvicorn in a thread) for clients outside the test process:
schemathesis, a JavaScript wallet. One per test module, on a SQLite file holding the standard
cast (tests/api/flows.py: build_world), against the session's anvil; the chain is reverted after."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.server import ApiServer
from api.settings import ApiSettings
from store.db import make_engine, upgrade
from tests.api.conftest import _bootstrap_admin
from tests.api.flows import PUBLIC_BASE_URL, Api, World, build_world
from tests.utils.anvil import ChainEnv, revert, snapshot


@dataclass(frozen=True)
class Served:
    """The API's base URL and the cast in its store (world.api.client talks to the same store)."""

    url: str
    world: World


@pytest.fixture(scope="module")
def served(
    chain_env: ChainEnv, deployments_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    url = f"sqlite:///{tmp_path_factory.mktemp('served') / 'chaintrace.db'}"
    upgrade(url)
    engine = make_engine(url)
    snap = snapshot(chain_env.w3)
    settings = ApiSettings(
        database_url=url,
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=deployments_file,
        rate_limit_enabled=False,  # rate limits have their own tests; here they would hide bugs
        api_port=0,
    )
    server = ApiServer(settings, engine=engine, w3=chain_env.w3)
    thread = threading.Thread(target=server.run, daemon=True)
    try:
        with TestClient(create_app(settings, engine=engine, w3=chain_env.w3)) as client:
            world = build_world(Api(client, _bootstrap_admin(engine), chain_env, engine))
            thread.start()
            deadline = time.monotonic() + 60  # a bound for a loaded machine, not a timing check
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
                time.sleep(0.05)
            yield Served(f"http://127.0.0.1:{server.port}", world)
    finally:
        if thread.is_alive():
            server.stop()
            thread.join(timeout=60)
        revert(chain_env.w3, snap)
        engine.dispose()
