"""`chaintrace principals ...` and `admin-key`: the admin's key and principal commands."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from chaintrace.cli import app
from store.db import transaction
from store.principals import create_api_key, create_principal, principal_for_key


def _run(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_list_revoke_set_wallet_disable_enable(
    db_url: str, db_sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("CHAINTRACE_DEV", raising=False)
    with transaction(db_sessions) as session:
        pid = create_principal(session, "carrier one", "carrier").id
        keep, leaked = create_api_key(session, pid, "laptop"), create_api_key(session, pid, "ci")
    keys = _run("principals", "keys", str(pid))
    assert [k["label"] for k in keys] == ["laptop", "ci"] and keys[1]["revoked"] is None
    (revoked,) = _run("principals", "revoke-key", str(pid), str(keys[1]["id"]))
    assert revoked["revoked"] is not None
    wallet = Account.create().address
    (updated,) = _run("principals", "update", str(pid), "--wallet", wallet, "--disable")
    assert updated["walletAddress"] == wallet and updated["disabledAt"] is not None
    with db_sessions() as session:
        assert principal_for_key(session, keep) is None  # disabled
    _run("principals", "update", str(pid), "--enable")
    with db_sessions() as session:
        assert principal_for_key(session, keep) is not None
        assert principal_for_key(session, leaked) is None  # revoked stays revoked


def test_a_missing_database_url_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINTRACE_DEV", raising=False)
    result = CliRunner().invoke(app, ["admin-key", "root"])
    assert result.exit_code == 2
    assert "chaintrace up" in result.output and "DATABASE_URL" in result.output
