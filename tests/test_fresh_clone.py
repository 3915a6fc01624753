"""A fresh clone stays clean after the Makefile's `npm install`: the committed package-lock.json
holds every platform's optional anvil/forge binaries, so npm has nothing to add to it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
# The Makefile's own command (its $(NPM_STAMP) rule), so the test follows what `make deps` runs.
_NPM_INSTALL = re.compile(r"^\tnpm install (.+)$", re.MULTILINE)
_OFFLINE = re.compile(r"ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|ENETUNREACH")


def _npm_install_args() -> list[str]:
    found = _NPM_INSTALL.search((_ROOT / "Makefile").read_text())
    assert found, "the Makefile no longer runs `npm install`: update this test"
    return ["npm", "install", *found.group(1).split()]


def test_npm_install_leaves_a_fresh_clone_clean(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    if not (_ROOT / ".git").exists():
        pytest.skip(f"{_ROOT} is not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(_ROOT), str(clone)], check=True, timeout=120)
    done = subprocess.run(
        _npm_install_args(), cwd=clone, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0 and _OFFLINE.search(done.stdout + done.stderr):
        pytest.skip(f"the npm registry is unreachable: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
    )
    assert status.stdout == "", f"npm install changed the clone:\n{status.stdout}" + (
        subprocess.run(["git", "diff", "--stat"], cwd=clone, capture_output=True, text=True).stdout
    )
