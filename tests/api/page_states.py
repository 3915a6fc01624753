"""Every verdict state's item (tests/api/verdict_states.py) in a store served over real HTTP
for a browser, as tests/api/served_support.py serves one: its own SQLite file, the session's
anvil (reverted after)."""

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
from tests.api.flows import PUBLIC_BASE_URL, Api
from tests.api.verdict_states import StateItem, every_state
from tests.utils.anvil import ChainEnv, revert, snapshot


@dataclass(frozen=True)
class ServedStates:
    """The served API's base URL and its item per verdict state."""

    url: str
    states: dict[str, StateItem]


@pytest.fixture(scope="module")
def served_states(
    chain_env: ChainEnv, deployments_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedStates]:
    url = f"sqlite:///{tmp_path_factory.mktemp('states') / 'chaintrace.db'}"
    upgrade(url)
    engine = make_engine(url)
    snap = snapshot(chain_env.w3)
    settings = ApiSettings(
        database_url=url,
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=deployments_file,
        rate_limit_enabled=False,  # a browser test is not a rate-limit test
        api_port=0,
    )
    server = ApiServer(settings, engine=engine, w3=chain_env.w3)
    thread = threading.Thread(target=server.run, daemon=True)
    try:
        with TestClient(create_app(settings, engine=engine, w3=chain_env.w3)) as client:
            states = every_state(Api(client, _bootstrap_admin(engine), chain_env, engine))
            thread.start()
            deadline = time.monotonic() + 60  # a bound for a loaded machine, not a timing check
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
                time.sleep(0.05)
            yield ServedStates(f"http://127.0.0.1:{server.port}", states)
    finally:
        if thread.is_alive():
            server.stop()
            thread.join(timeout=60)
        revert(chain_env.w3, snap)
        engine.dispose()
