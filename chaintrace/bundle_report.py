"""What `chaintrace verify-bundle` prints: one row per entry, the brand's word, the verdict."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from web3 import Web3

from chaintrace.bundle_check import BundleReport, EntryResult, verify_bundle
from core.proof_bundle import BundleError, parse_bundle

OK, FAILED, MALFORMED, NOT_FINAL = 0, 1, 2, 3


def _status(entry: EntryResult) -> str:
    if entry.failure is not None:
        return "[red]FAILED[/red]"
    if entry.final:
        return "[green]final[/green]"
    left = entry.confirmations_left
    more = f", {left} confirmation(s) to come" if left else ", waiting for finality"
    return f"[yellow]anchored{more}[/yellow]"


def _table(report: BundleReport) -> Table:
    name = escape(report.chain_name or "chain")
    table = Table(title=f"Proof bundle on {name} (chain id {report.chain_id})")
    for column in ("#", "step", "time", "block", "status", "what failed"):
        table.add_column(column)
    for i, entry in enumerate(report.entries, 1):
        table.add_row(
            str(i),
            escape(entry.step),
            escape(entry.event_time or ""),
            "" if entry.block is None else str(entry.block),
            _status(entry),
            escape(entry.failure or ""),
        )
    return table


def run_verify_bundle(path: Path, w3: Web3, console: Console | None = None) -> int:
    """Read, check and print a bundle; the exit code."""
    out = console or Console()
    try:
        data = path.read_bytes()
    except OSError as exc:
        out.print(f"cannot read {path}: {exc.strerror or exc}", style="red", markup=False)
        return MALFORMED
    try:
        bundle = parse_bundle(data)
    except BundleError as exc:
        out.print(f"{path}: {exc}", style="red", markup=False)
        return MALFORMED
    report = verify_bundle(w3, bundle)
    if report.failure is not None:
        out.print(f"FAILED: {report.failure}", style="red", markup=False)
        return FAILED
    out.print(_table(report))
    ok = report.brand == "confirmed"
    brand = "[green]confirmed[/green]" if ok else escape(report.brand)
    out.print(f"brand's commissioning root: {brand}")
    if not report.entries:
        out.print("[yellow]the bundle proves no entry[/yellow]")
    if not report.ok:
        out.print("[red]FAILED: the bundle does not hold[/red]")
        return FAILED
    if not report.final:
        out.print("[yellow]holds, but not final yet[/yellow]")
        return NOT_FINAL
    out.print("[green]OK: every entry verified and final[/green]")
    return OK
