"""`chaintrace admin-key` when it cannot find the store or the dev chain: exactly what to set.

Dev mode with `chaintrace up` running (the database and the deployer's wallet found by
themselves) is in test_cli_up.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaintrace.cli import app
from chaintrace.endpoints import masked
from chaintrace.runinfo import RunInfo


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DATABASE_URL", "CHAIN_RPC_URL", "DEPLOYMENTS_FILE", "CHAINTRACE_DEV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINTRACE_HOME", str(tmp_path))
    return tmp_path


def _admin_key(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["admin-key", "root", *args])
    return result.exit_code, " ".join(result.output.split())


def test_outside_dev_mode_it_names_every_setting(home: Path) -> None:
    code, output = _admin_key()
    assert code == 2
    for what in ("DATABASE_URL", "postgresql://", "--wallet", "CHAINTRACE_DEV=1", "chaintrace up"):
        assert what in output, output
    assert "running now" not in output
    RunInfo(owner_pid=os.getpid(), database_url="sqlite:////nowhere.db").write(home)
    code, output = _admin_key()
    assert code == 2 and f"running now (process {os.getpid()}): add CHAINTRACE_DEV=1" in output


def test_dev_mode_without_a_readable_chain_asks_for_up_or_a_wallet(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINTRACE_DEV", "1")
    code, output = _admin_key()
    assert code == 2 and "chaintrace up" in output  # no run.json
    RunInfo(
        owner_pid=os.getpid(),
        chain_rpc_url="http://127.0.0.1:1",  # nothing listens on port 1
        database_url=f"sqlite:///{home / 'store.db'}",
        deployments_file=str(home / "deployments.json"),
    ).write(home)
    code, output = _admin_key()
    assert code == 2 and "restart `chaintrace up`, or pass --wallet" in output, output


def test_run_json_reads_with_keys_a_later_chaintrace_adds(tmp_path: Path) -> None:
    RunInfo(owner_pid=os.getpid(), api_url="http://127.0.0.1:8000").write(tmp_path)
    data = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps({**data, "added_later": 1}))
    assert RunInfo.read(tmp_path).api_url == "http://127.0.0.1:8000"


def test_masked_hides_only_the_password() -> None:
    assert (
        masked("postgresql+psycopg://ct:s3cr%40t@db:5432/ct")
        == "postgresql+psycopg://ct:***@db:5432/ct"
    )
    assert masked("mqtt://gw:p@ss@broker:1883") == "mqtt://gw:***@broker:1883"
    assert masked("sqlite:////var/lib/ct.db") == "sqlite:////var/lib/ct.db"
    assert masked("mqtt://user@broker") == "mqtt://user@broker"
