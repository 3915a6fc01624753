"""The operator's CLI: every admin command writes the admin log (read with `audit-log`), and
`erase` erases one anchored event's personal data, refusing clearly what it cannot."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from chaintrace.cli import app
from store.models import Event
from tests.utils.anchored_store import N
from tests.utils.anchored_store import anchored as anchored  # the fixture
from tests.utils.anvil import (  # noqa: F401 (pytest fixtures: chain_snapshot and what it uses)
    ChainEnv,
    anvil_node,
    chain_env,
    chain_snapshot,
)


def _run(url: str, *args: str, code: int = 0) -> tuple[list[dict[str, object]], str]:
    env: dict[str, str | None] = {"DATABASE_URL": url, "CHAINTRACE_DEV": None}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return rows, result.output


def test_each_admin_command_writes_one_log_entry(db_url: str) -> None:
    _run(db_url, "admin-key", "root")
    _run(db_url, "principals", "revoke-key", "1", "1")
    _run(db_url, "principals", "update", "1", "--disable")
    _run(db_url, "principals", "update", "1", "--enable")
    _run(db_url, "principals", "revoke-key", "1", "99", code=1)  # refused: nothing logged
    rows, _ = _run(db_url, "audit-log")
    assert [(r["action"], r["target"], r["via"]) for r in rows] == [
        ("principal.create", "principal 1", "cli"),
        ("api_key.create", "principal 1", "cli"),
        ("api_key.revoke", "principal 1 key 1", "cli"),
        ("principal.update", "principal 1", "cli"),
        ("principal.update", "principal 1", "cli"),
    ]
    assert rows[1]["details"] == {"label": "bootstrap", "expiresAt": None}
    assert rows[3]["details"] == {"disabled": True} and rows[4]["details"] == {"disabled": False}
    assert all(str(r["actor"]).startswith("cli:") for r in rows)
    page, _ = _run(db_url, "audit-log", "--after", str(rows[2]["id"]), "--limit", "1")
    assert [r["id"] for r in page] == [rows[3]["id"]]


def test_erase_from_the_cli(
    anchored: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    with db_sessions() as session:
        event_id = session.scalars(select(Event.id).order_by(Event.id)).first()
    (erased,), _ = _run(db_url, "erase", str(event_id), "--reason", "request 9", "--by", "dpo")
    assert erased["status"] == "erased" and erased["erasedBy"] == "cli:dpo"
    _, output = _run(db_url, "erase", str(event_id), "--reason", "again", code=1)
    assert "was erased at" in output and "Traceback" not in output
    _, output = _run(db_url, "erase", "999999", "--reason", "none", code=1)
    assert "no event with id 999999" in output
    rows, _ = _run(db_url, "audit-log", "--action", "event.erase")
    assert [(r["target"], r["actor"]) for r in rows] == [(f"event {event_id}", "cli:dpo")]


def test_an_export_holds_every_salt_and_is_logged(
    anchored: ChainEnv, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "export.json"
    _run(db_url, "export", str(out))
    rows, _ = _run(db_url, "audit-log", "--action", "store.export")
    # Each event's record and the records of its public projections' (kind 2) leaves.
    written = len(json.loads(out.read_text())["records"])
    assert written > N
    assert [(r["target"], r["details"]) for r in rows] == [
        ("store", {"file": str(out.resolve()), "records": written})
    ]
