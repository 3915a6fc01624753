"""The operator's commands: backup and restore of the store, erasing one event's personal data,
reading the admin log."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)

PgBin = Annotated[
    Path | None,
    typer.Option(
        "--pg-bin", help="Directory of pg_dump / pg_restore (PostgreSQL; default: from PATH)."
    ),
]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who acts, for the admin log (default: the OS user@host)."),
]


def register(app: typer.Typer, database_url: Callable[[], str]) -> None:
    """Add the commands to `app`; `database_url` reads DATABASE_URL (or says what to do)."""

    @app.command()
    def backup(
        path: Annotated[Path, typer.Argument(help="New file to write the backup to.")],
        pg_bin: PgBin = None,
        by: By = None,
    ) -> None:
        """Back up the whole store, salts included (SQLite online; PostgreSQL: pg_dump -Fc), to a
        file only its owner can read (0600); logged in the admin log."""
        from chaintrace.backup import BackupError
        from chaintrace.backup import backup as do_backup
        from store.admin_log import Actor

        try:
            revision = do_backup(database_url(), path, pg_bin=pg_bin, actor=Actor.cli(by))
        except BackupError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        console.print(f"backup written to {path} (schema {revision})")

    @app.command()
    def restore(
        path: Annotated[Path, typer.Argument(help="Backup file written by `chaintrace backup`.")],
        force: Annotated[
            bool, typer.Option("--force", help="Replace a store that holds data.")
        ] = False,
        pg_bin: PgBin = None,
        by: By = None,
    ) -> None:
        """Restore the store from a backup (stop the API, gateway and workers first)."""
        from chaintrace.backup import BackupError
        from chaintrace.backup import restore as do_restore
        from store.admin_log import Actor

        try:
            done = do_restore(database_url(), path, force=force, pg_bin=pg_bin, actor=Actor.cli(by))
        except BackupError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        console.print(f"store restored from {path} (schema {done.revision})")
        if done.needs_upgrade:
            console.print("[yellow]the backup's schema is older: run `chaintrace db upgrade`[/]")

    @app.command()
    def erase(
        event_id: Annotated[int, typer.Argument(help="The event's id (as the resolver shows).")],
        reason: Annotated[
            str, typer.Option(help="Why (kept in the erasure record and the admin log).")
        ],
        by: By = None,
    ) -> None:
        """Erase one anchored event's personal data (its salt and JSON) for good."""
        from chaintrace.operations import erase_event_data
        from store.errors import StoreError

        try:
            print(json.dumps(erase_event_data(database_url(), event_id, reason, by)))
        except StoreError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None

    @app.command("audit-log")
    def audit_log(
        after: Annotated[int, typer.Option(help="Entries after this id.")] = 0,
        limit: Annotated[int, typer.Option(min=1, max=10_000, help="Entries to print.")] = 100,
        action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    ) -> None:
        """Print admin actions, oldest first, one JSON object a line."""
        from chaintrace.operations import admin_log_rows

        for row in admin_log_rows(database_url(), after, limit, action):
            print(json.dumps(row))
