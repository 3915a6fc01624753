"""A real `chaintrace api` process fed the bodies that used to kill it: it answers and lives on.

A 198 KB body of nested brackets, POSTed without a key, segfaulted the API: web3's py_ecc had
raised the recursion limit to 100,000, so json.loads overflowed the C stack. Now bodies are
bounded before parsing (api.limits, core.json_bounds) and the limit is restored (core.recursion).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from store.db import session_factory, transaction
from store.models import Role
from store.principals import create_api_key, create_principal
from tests.api.flows import PUBLIC_BASE_URL
from tests.utils.anvil import ChainEnv
from tests.utils.mosquitto import free_port

_CLI = Path(sys.executable).with_name("chaintrace")
_KB_198 = 99_000  # '[' * d + ']' * d: 198 KB
_MB_2 = 1_100_000  # 2.2 MB: over the 2 MiB body cap


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def api_process(
    api_engine: Engine, chain_env: ChainEnv, deployments_file: Path, tmp_path: Path
) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """`chaintrace api` on the test database and chain: (base URL, admin key, process)."""
    with transaction(session_factory(api_engine)) as session:
        admin = create_principal(session, "admin", Role.ADMIN)
        admin_key = create_api_key(session, admin.id)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CHAINTRACE_", "API_"))},
        "DATABASE_URL": api_engine.url.render_as_string(hide_password=False),
        "CHAIN_RPC_URL": chain_env.node.rpc_url,
        "DEPLOYMENTS_FILE": str(deployments_file),
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "API_PORT": str(port),
    }
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen([str(_CLI), "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # a deadline for a loaded machine, not a timing check
    while True:
        assert proc.poll() is None, (tmp_path / "api.log").read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.2)
    try:
        yield base, admin_key, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _chunked_post(base: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` with Transfer-Encoding: chunked (no Content-Length); the status."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        chunks = (body[i : i + 65_536] for i in range(0, len(body), 65_536))
        conn.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        return conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        # The server may answer 413 and close before the client finished sending.
        return 413
    finally:
        conn.close()


def test_nested_and_oversized_bodies_get_400_or_413_and_the_api_lives_on(
    api_process: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    base, admin_key, proc = api_process
    # The server has made its web3 calls (healthz reads the chain): the limit stays bounded.
    health = httpx.get(f"{base}/healthz", timeout=10).json()
    assert health["chain"]["chainId"] > 0
    metrics = httpx.get(f"{base}/metrics", headers={"X-API-Key": admin_key}, timeout=10)
    limit_line = next(
        line for line in metrics.text.splitlines() if line.startswith("chaintrace_api_recursion")
    )
    assert float(limit_line.split()[-1]) <= 3000

    json_type = {"Content-Type": "application/json"}
    paths = ("/principals", "/shipments/0x" + "ab" * 32 + "/events")
    for path in paths:
        for key in (None, admin_key):
            headers = {**json_type, **({"X-API-Key": key} if key else {})}
            small = httpx.post(f"{base}{path}", content=_nested(_KB_198), headers=headers)
            assert small.status_code == 400, (path, key, small.text)
            assert "nested deeper than" in small.json()["detail"]
            large = httpx.post(f"{base}{path}", content=_nested(_MB_2), headers=headers)
            assert large.status_code == 413, (path, key, large.text)
            assert _chunked_post(base, path, _nested(_MB_2), headers) == 413
            assert _chunked_post(base, path, _nested(_KB_198), headers) == 400
            assert proc.poll() is None, "the API process died"
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    # A body without a Content-Type is parsed as JSON by FastAPI: bounded all the same.
    bare = httpx.post(f"{base}/principals", content=_nested(_KB_198))
    assert bare.status_code == 400
    # Every refusal is counted.
    scrape = httpx.get(f"{base}/metrics", headers={"X-API-Key": admin_key}, timeout=10).text
    assert 'chaintrace_api_bodies_refused_total{reason="too_deep"} 9.0' in scrape
    assert 'chaintrace_api_bodies_refused_total{reason="too_large"} 8.0' in scrape
