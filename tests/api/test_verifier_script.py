"""The in-page verifier script: served by us, exactly the vendored npm keccak plus our own code,
pinned by its SHA-256 in the page's CSP; the vendored copy is node_modules' pinned one."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.page_times import LOCAL_TIME_SCRIPT_HASH
from api.security_headers import resolver_csp
from api.settings import ApiSettings
from api.verifier_script import INTEGRITY, SCRIPT_PATH, VENDORED_KECCAK, VERIFIER

ROOT = Path(__file__).resolve().parents[2]
NPM_COPY = ROOT / "node_modules" / "js-sha3" / "build" / "sha3.min.js"


def test_the_vendored_keccak_is_the_pinned_npm_package() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["js-sha3"]
    if not NPM_COPY.exists():
        pytest.skip("node_modules/js-sha3 is missing (make deps)")
    installed = json.loads((NPM_COPY.parents[1] / "package.json").read_text())["version"]
    assert pinned == installed == "0.8.0"
    assert VENDORED_KECCAK.read_bytes() == NPM_COPY.read_bytes()
    assert (VENDORED_KECCAK.parent / "LICENSE.txt").read_bytes() == (
        NPM_COPY.parents[1] / "LICENSE.txt"
    ).read_bytes()


def _client(tmp_path: Path, **settings: object) -> TestClient:
    url = f"sqlite:///{tmp_path / 'ct.db'}"
    from store.db import upgrade

    upgrade(url)
    values = {"chaintrace_dev": True, "database_url": url, **settings}
    return TestClient(create_app(ApiSettings.model_validate(values)))


def test_the_script_is_served_and_its_hash_is_pinned(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        response = client.get(SCRIPT_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content == VENDORED_KECCAK.read_bytes() + b"\n" + VERIFIER.read_bytes()
    digest = base64.b64encode(hashlib.sha256(response.content).digest()).decode()
    assert f"sha256-{digest}" == INTEGRITY


@pytest.mark.parametrize(
    ("rpc", "connect"),
    [
        (None, "connect-src 'self';"),
        ("https://rpc.example.org/v3/abc?x=1", "connect-src 'self' https://rpc.example.org;"),
        ("http://127.0.0.1:8545", "connect-src 'self' http://127.0.0.1:8545;"),
    ],
)
def test_the_resolver_csp_allows_exactly_the_script_and_the_rpc(
    tmp_path: Path, rpc: str | None, connect: str
) -> None:
    with _client(tmp_path, public_rpc_url=rpc) as client:
        page = client.get("/01/12345678901231/21/unknown")  # a resolver page (404)
        other = client.get("/healthz")
    csp = page.headers["content-security-policy"]
    assert csp == resolver_csp(rpc)
    scripts = f"script-src '{INTEGRITY}' {LOCAL_TIME_SCRIPT_HASH};"
    assert scripts in csp and csp.count("script-src") == 1
    assert connect in csp and "default-src 'none'" in csp
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    assert "script-src" not in other.headers["content-security-policy"]  # JSON
