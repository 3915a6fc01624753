"""/docs (Swagger UI) and /redoc work offline: every script, style and icon comes from the app
itself (fastapi-offline's package files), the pages name no other origin, and their CSP lets
them run; headless Chromium, with every host but 127.0.0.1 unresolvable, renders both."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.security_headers import POLICIES, RouteClass
from api.settings import ApiSettings
from store.db import sqlite_url, upgrade
from tests.api.flows import PUBLIC_BASE_URL
from tests.utils.db_fixtures import service_unavailable

_PAGES = ("/docs", "/redoc")
_REFERENCE = re.compile(r"""(?:src|href|spec-url)="([^"]+)"|url: '([^']+)'""")
_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    folder = tmp_path_factory.mktemp("docs")
    url = sqlite_url(folder / "store.db")
    upgrade(url)
    settings = ApiSettings(
        database_url=url,
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=folder / "none.json",
    )
    return create_app(settings)


def test_the_docs_pages_and_every_asset_they_reference_come_from_the_app(app: FastAPI) -> None:
    with TestClient(app) as client:
        for page in _PAGES:
            response = client.get(page)
            assert response.status_code == 200, page
            html = response.text
            assert "http://" not in html and "https://" not in html, html  # no CDN, no fonts
            csp = response.headers["Content-Security-Policy"]
            assert csp == POLICIES[RouteClass.DOCS]["Content-Security-Policy"]
            assert "http" not in csp and "*" not in csp, csp  # no origin but the app's own
            references = [a or b for a, b in _REFERENCE.findall(html)]
            assert len(references) >= 3, html  # a script, the icon, the OpenAPI document
            for reference in references:
                assert reference.startswith("/"), reference
                asset = client.get(reference)
                assert asset.status_code == 200 and len(asset.content) > 0, reference
                suffix = Path(reference).suffix
                assert _TYPES[suffix] in asset.headers["content-type"], reference
        assert client.get("/docs/oauth2-redirect").status_code == 200


@pytest.fixture(scope="module")
def served(app: FastAPI) -> Iterator[str]:
    """The app on a real loopback port, for a browser."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _render_offline(url: str, profile: Path) -> tuple[str, str]:
    """The DOM after the page ran, and Chromium's console; no host but 127.0.0.1 resolves."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        service_unavailable("chromium is not installed (apt-get install chromium)")
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # root in CI
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, done.stderr


def _csp_violations(console: str) -> list[str]:
    # ReDoc's "powered by" logo is an image from its CDN: blocked, and nothing else is.
    return [
        line
        for line in console.splitlines()
        if "Content Security Policy" in line and "cdn.redoc.ly/redoc/logo" not in line
    ]


def test_swagger_ui_renders_offline(served: str, tmp_path: Path) -> None:
    dom, console = _render_offline(f"{served}/docs", tmp_path / "profile")
    assert 'class="opblock opblock-get' in dom, dom[-2000:]  # an operation was rendered
    assert "/healthz" in dom and "/shipments" in dom
    assert _csp_violations(console) == []


def test_redoc_renders_offline(served: str, tmp_path: Path) -> None:
    dom, console = _render_offline(f"{served}/redoc", tmp_path / "profile")
    assert "api-content" in dom, dom[-2000:]  # ReDoc laid out the document
    assert "/healthz" in dom and "chaintrace" in dom
    assert _csp_violations(console) == []
