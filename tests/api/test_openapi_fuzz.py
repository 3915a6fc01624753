"""The API against its own OpenAPI document: schemathesis generates requests from it (valid and
invalid), as the admin, as a brand and with no key, and runs every check on the answers: no 500,
every status code and body documented, valid data accepted, invalid data refused, Allow headers.

Bounded for `make test`: 25 examples an operation and identity, against the real HTTP server on a
SQLite store holding the standard cast (tests/api/flows.py: build_world) and a real anvil with the
contracts deployed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.served_support import Served
from tests.api.served_support import served as served  # the fixture

EXAMPLES = 25
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
REPO = Path(__file__).resolve().parents[2]
# Minutes of schemathesis: started first under pytest-xdist (tests/conftest.py).
pytestmark = pytest.mark.slow


def _schemathesis(base_url: str, key: str | None, tmp_path: Path) -> None:
    command = [
        str(SCHEMATHESIS),
        f"--config-file={Path(__file__).with_name('schemathesis.toml')}",
        "run",
        f"{base_url}/openapi.json",
        "--checks=all",
        f"--max-examples={EXAMPLES}",
        "--workers=1",  # CPython 3.11 ast.parse is not thread-safe (hypothesis parses lambdas)
        "--generation-deterministic",
        "--no-color",
        # A bound for a loaded CI machine, not a timing check (schemathesis's default is 10 s:
        # one request over it on a busy 2-core runner failed a run that found nothing wrong).
        "--request-timeout=60",
    ]
    if key is not None:
        command.append(f"--header=Authorization: Bearer {key}")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]


def test_as_the_admin(served: Served, tmp_path: Path) -> None:
    _schemathesis(served.url, served.world.api.admin_key, tmp_path)


def test_as_a_brand(served: Served, tmp_path: Path) -> None:
    _schemathesis(served.url, served.world.brand_key, tmp_path)


def test_with_no_key(served: Served, tmp_path: Path) -> None:
    _schemathesis(served.url, None, tmp_path)
