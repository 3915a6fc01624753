"""The `chaintrace` command: each platform process, the dev-mode stack, the demo and the audit."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from web3 import Web3

from chaintrace import cli_ops
from chaintrace.runinfo import RunInfoMissing
from chaintrace.wiring import (
    AuditSettings,
    CliSettings,
    DeploySettings,
    dev_fallback,
    load_settings,
)
from core.recursion import bound_recursion_limit

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
console = Console(stderr=True)

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")]


@app.callback()
def _process() -> None:
    """Before every command: the recursion limit web3's py_ecc raised, bounded again."""
    bound_recursion_limit()


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _cli() -> CliSettings:
    return CliSettings()


def _fallback() -> dict[str, Any] | None:
    """run.json's endpoints in dev mode; outside dev mode nothing (a missing URL is an error)."""
    cli = _cli()
    if not cli.chaintrace_dev:
        return None
    try:
        return dev_fallback(cli.chaintrace_home)
    except RunInfoMissing as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _settings(cls: type[Any]) -> Any:
    try:
        return load_settings(cls, _fallback())
    except ValidationError as exc:
        console.print(f"[red]invalid {cls.__name__}:[/red]\n{exc}")
        raise typer.Exit(2) from None


def _wait_for_signal() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


def _run_until_signal(run: Callable[[], None], stop: Callable[[], None]) -> None:
    """Run `run` in the main thread; SIGTERM/SIGINT call `stop` (off the handler) to end it."""

    def _handler(*_: object) -> None:
        threading.Thread(target=stop, name="stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    run()


def _w3(url: str) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))


@db_app.command("upgrade")
def db_upgrade(verbose: Verbose = False) -> None:
    """Migrate the database named by DATABASE_URL (dev mode: the embedded one) to the latest."""
    _logging(verbose)
    from store.db import upgrade

    url = _settings(AuditSettings).database_url
    if not url:
        console.print("[red]DATABASE_URL is not set[/red]")
        raise typer.Exit(2)
    upgrade(url)
    console.print("database at head")


@app.command()
def node(
    fresh: Annotated[bool, typer.Option(help="Start from an empty state directory.")] = False,
    block_time: Annotated[float, typer.Option(help="Seconds per block (0 = automine).")] = 1.0,
    verbose: Verbose = False,
) -> None:
    """Dev mode: start anvil, SQLite and a broker, deploy, write run.json, wait for Ctrl-C."""
    _logging(verbose)
    from chaintrace.embedded import start_embedded
    from chaintrace.endpoints import endpoint_lines
    from chaintrace.progress import StartupProgress

    services = start_embedded(
        _cli().chaintrace_home,
        fresh=fresh,
        block_time=block_time or None,
        progress=StartupProgress(console),
    )
    print(*endpoint_lines(services.run_info, services.state_dir), sep="\n", flush=True)
    console.print(
        f"TraceAnchor {services.deployment.trace_anchor}\n"
        f"ShipmentEscrow v1 {services.deployment.shipment_escrow}\n"
        f"ShipmentEscrow v2 {services.deployment.shipment_escrow_v2}\n"
        "other processes attach with CHAINTRACE_DEV=1; Ctrl-C stops"
    )
    try:
        _wait_for_signal()
    finally:
        services.stop()


@app.command()
def deploy(
    admin: Annotated[str, typer.Option(help="Address that administers the contracts.")],
    anchorer: Annotated[str, typer.Option(help="Address holding ANCHORER_ROLE.")],
    oracle: Annotated[str, typer.Option(help="Address holding ORACLE_ROLE.")],
    registrar: Annotated[
        str | None,
        typer.Option(help="Address holding TraceAnchor v2's REGISTRAR_ROLE (default: --admin)."),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Deploy the contract releases a chain lacks (all on a new chain) to CHAIN_RPC_URL, with
    DEPLOYER_PRIVATE_KEY / DEPLOYER_KEYSTORE; earlier releases on it are kept."""
    _logging(verbose)
    settings = _settings(DeploySettings)
    from chain.toolchain.deploy import deploy as do_deploy
    from chain.toolchain.deploy import load_deployment, save_deployment, upgrade

    w3 = _w3(settings.chain_rpc_url)
    # A chain already recorded is upgraded beside what it has, never redeployed: its releases
    # hold deposits and roots (a recorded address without the committed code is an error).
    found = load_deployment(w3, settings.deployments_file)
    if found is None:
        deployment = do_deploy(
            w3, settings.load_account(), admin, anchorer, oracle, registrar=registrar
        )
    else:
        deployment = upgrade(
            w3,
            settings.load_account(),
            found,
            admin,
            oracle,
            anchorer=anchorer,
            registrar=registrar,
        )
    save_deployment(deployment, settings.deployments_file)
    console.print_json(json.dumps(deployment.to_json()))


@app.command()
def gateway(verbose: Verbose = False) -> None:
    """Run the MQTT gateway: verify, store and roll up device readings."""
    _logging(verbose)
    from iot_gateway.gateway import Gateway
    from iot_gateway.settings import GatewaySettings

    gw = Gateway(_settings(GatewaySettings))
    _run_until_signal(gw.run, gw.stop)


def _worker(kind: str) -> tuple[Any, Any]:
    from chain.settings import AnchorSettings, SettleSettings
    from chain.toolchain.deploy import require_deployment

    settings = _settings(AnchorSettings if kind == "anchor" else SettleSettings)
    w3 = _w3(settings.chain_rpc_url)
    deployment = require_deployment(w3, settings.deployments_file)
    return settings, (w3, settings.load_account(), deployment)


@app.command()
def anchor(verbose: Verbose = False) -> None:
    """Run the anchoring worker (anchorer key): outbox -> Merkle root -> TraceAnchor -> proofs."""
    _logging(verbose)
    from chain.anchoring.worker import AnchorWorker

    settings, (w3, account, deployment) = _worker("anchor")
    worker = AnchorWorker(settings, _engine(settings.database_url), w3, account, deployment)
    _run_until_signal(worker.run, worker.stop)


@app.command()
def deliver(verbose: Verbose = False) -> None:
    """Run the EPCIS subscription delivery worker: new matching events -> signed webhook POSTs.

    Several may run at once (each delivery is leased to one); it holds no key."""
    _logging(verbose)
    from api.delivery_settings import DeliverySettings
    from api.epcis_delivery import DeliveryWorker

    settings = _settings(DeliverySettings)
    if not settings.database_url:
        console.print("[red]DATABASE_URL is not set[/red]")
        raise typer.Exit(2)
    worker = DeliveryWorker(settings, _engine(settings.database_url))
    _run_until_signal(worker.run, worker.stop)


@app.command()
def settle(
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help="List funded, unattested shipments by time left to attest, from the store "
            "only (no key, no chain), and exit.",
        ),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Run the settlement worker (oracle key): attest verified deliveries, settle escrows."""
    _logging(verbose)
    if status:
        _settle_status()
        return
    from chain.settlement.worker import SettlementWorker

    settings, (w3, account, deployment) = _worker("settle")
    worker = SettlementWorker(settings, _engine(settings.database_url), w3, account, deployment)
    _run_until_signal(worker.run, worker.stop)


def _settle_status() -> None:
    """`settle --status`: the money at risk, as store/at_risk.py computes it for /metrics."""
    from rich.table import Table

    from store import chain_view
    from store.at_risk import (
        EXPIRED,
        WITHIN_1H,
        WITHIN_24H,
        format_left,
        format_time,
        open_escrows,
        store_now,
    )
    from store.db import read_transaction, session_factory

    url = _settings(AuditSettings).database_url
    if not url:
        console.print("[red]DATABASE_URL is not set[/red]")
        raise typer.Exit(2)
    with read_transaction(session_factory(_engine(url))) as session:
        escrows = open_escrows(session)
        now = store_now(session)
        tip = chain_view.followed_tip(session)
    followed = (
        "the chain follower has not run yet: no escrow is known funded"
        if tip is None
        else f"escrow states as of block {tip.number} ({format_time(int(tip.timestamp))})"
    )
    table = Table(
        title=f"Funded shipments not attested: {len(escrows)}, at {format_time(now)}",
        caption=f"{followed}; attest by = deadline + refund grace, then the buyer can refund",
    )
    for name in ("shipment", "status", "amount", "attest by", "time left", "why not attested"):
        table.add_column(name, no_wrap=name in ("shipment", "attest by"))
    styles = {EXPIRED: "red", WITHIN_1H: "bold red", WITHIN_24H: "yellow"}
    for e in escrows:
        table.add_row(
            e.shipment_id,
            e.status.value,
            _amount(e.amount, e.token),
            format_time(e.attest_by),
            format_left(e.seconds_left(now)),
            e.reason(now),
            style=styles.get(e.window(now)),
        )
    Console(width=None if sys.stdout.isatty() else 250).print(table)


def _amount(amount: int | None, token: str) -> str:
    if amount is None:
        return "?"
    if int(token, 16) == 0:
        from decimal import Decimal

        return f"{Decimal(amount).scaleb(-18).normalize():f} ETH"
    return f"{amount} of token {token}"


def _engine(url: str) -> Any:
    from store.db import make_engine

    return make_engine(url)


@app.command()
def api(verbose: Verbose = False) -> None:
    """Serve the HTTP API and the consumer pages (never holds a private key)."""
    _logging(verbose)
    import uvicorn

    from api.main import create_app
    from api.settings import ApiSettings

    settings = _settings(ApiSettings)
    # proxy_headers=False: X-Forwarded-For is read only from TRUSTED_PROXIES (api/rate_limit.py).
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=False,
    )


@app.command()
def up(
    fresh: Annotated[bool, typer.Option(help="Start from an empty state directory.")] = False,
    verbose: Verbose = False,
) -> None:
    """Dev mode: embedded chain, database and broker plus every process, until Ctrl-C.

    The API listens on API_HOST:API_PORT (any free port without API_PORT); every endpoint is
    printed and written to .chaintrace/run.json."""
    _logging(verbose)
    from chaintrace.embedded import start_embedded
    from chaintrace.endpoints import endpoint_lines
    from chaintrace.platform import ApiPortUnavailable, Endpoints, Platform, api_address, bind_api
    from chaintrace.progress import StartupProgress

    try:
        # Bound first: a taken API port fails at once, before anvil and the broker start.
        api_socket = bind_api(*api_address())
    except ValidationError as exc:
        console.print(f"[red]invalid ApiSettings:[/red]\n{exc}")
        raise typer.Exit(2) from None
    except ApiPortUnavailable as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    progress = StartupProgress(console)
    try:
        services = start_embedded(_cli().chaintrace_home, fresh=fresh, progress=progress)
    except BaseException:
        api_socket.close()
        raise
    try:
        platform = Platform.for_dev(Endpoints.of(services), api_socket=api_socket)
        platform.start(progress)
        try:
            services.publish_api(platform.api_url)
            lines = endpoint_lines(services.run_info, services.state_dir)
            print("chaintrace is up (dev mode):", *lines, sep="\n", flush=True)
            console.print(
                "other commands attach with CHAINTRACE_DEV=1 (an admin key: "
                "CHAINTRACE_DEV=1 chaintrace admin-key NAME); Ctrl-C stops",
                soft_wrap=True,
            )
            _wait_for_signal()
        finally:
            platform.stop()
    finally:
        services.stop()


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="Keep running after the demo (Ctrl-C stops).")] = False,
    verbose: Verbose = False,
) -> None:
    """Dev mode: the whole story end to end on embedded defaults; exit 0 only if all checks hold."""
    _logging(verbose)
    from chaintrace.demo import run_demo

    code = run_demo(_cli().chaintrace_home, keep=keep)
    raise typer.Exit(code)


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="File to write the audit export to.")],
    verbose: Verbose = False,
) -> None:
    """Write every event exactly as hashed, with salts, proofs and roots, for auditors."""
    _logging(verbose)
    from chaintrace.audit import records_from_store, write_export
    from store.db import session_factory

    url = _settings(AuditSettings).database_url
    if not url:
        console.print("[red]DATABASE_URL is not set[/red]")
        raise typer.Exit(2)
    n = write_export(records_from_store(session_factory(_engine(url))), out)
    from chaintrace.backup import log_store_action
    from store.admin_log import Actor

    # The export holds every salt, like a backup: who took one is in the admin log.
    log_store_action(url, Actor.cli(), "store.export", {"file": str(out.resolve()), "records": n})
    console.print(f"{n} records written to {out}")


@app.command()
def verify(
    export_file: Annotated[
        Path | None, typer.Option("--export", help="Audit export to check instead of DATABASE_URL.")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Auditor: recompute every hash, leaf and root and check every proof on chain."""
    _logging(verbose)
    from chain.clients.trace_anchor_v2 import trace_anchors
    from chain.toolchain.deploy import require_deployment
    from chaintrace.audit import audit, read_export, records_from_store
    from store.db import session_factory

    settings = _settings(AuditSettings)
    if not settings.chain_rpc_url or (export_file is None and not settings.database_url):
        console.print("[red]CHAIN_RPC_URL (and DATABASE_URL without --export) must be set[/red]")
        raise typer.Exit(2)
    w3 = _w3(settings.chain_rpc_url)
    deployment = require_deployment(w3, settings.deployments_file)
    if export_file is not None:
        records = read_export(export_file)
    else:
        records = records_from_store(session_factory(_engine(settings.database_url)))
    anchors = trace_anchors(w3, deployment.releases)
    report = audit(records, anchors, deployment.roots_anchor.block)
    print(json.dumps(report.as_dict(), indent=2))
    sys.exit(0 if report.ok else 1)


@app.command("verify-bundle")
def verify_bundle(
    bundle_file: Annotated[Path, typer.Argument(help="An item's proof bundle (?format=bundle).")],
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="JSON-RPC of the chain (default CHAIN_RPC_URL).")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Anyone: check an item's proof bundle offline and against the chain (exit 0: all holds
    and final; 1: a check failed; 2: not a bundle or no RPC; 3: holds, not final yet)."""
    _logging(verbose)
    from chaintrace.bundle_report import run_verify_bundle

    url = rpc or _settings(AuditSettings).chain_rpc_url
    if not url:
        console.print("[red]give --rpc URL (or set CHAIN_RPC_URL)[/red]")
        raise typer.Exit(2)
    raise typer.Exit(run_verify_bundle(bundle_file, _w3(url)))


@app.command("admin-key")
def admin_key(
    name: Annotated[str, typer.Argument(help="Name of the admin principal.")],
    wallet: Annotated[str | None, typer.Option(help="The admin's wallet address.")] = None,
) -> None:
    """Bootstrap: create an admin principal in the database and print its API key once.

    In dev mode (CHAINTRACE_DEV=1 while `chaintrace up` runs) the database comes from run.json
    and the wallet, unless given, is the dev chain's deployer (the contracts' admin)."""
    from chaintrace.admin_key import AdminWalletUnknown, dev_admin_wallet, missing_database_hint
    from chaintrace.bootstrap import create_admin_key

    cli = _cli()
    settings: AuditSettings = _settings(AuditSettings)
    if not settings.database_url:
        console.print(f"[red]{missing_database_hint(cli.chaintrace_home)}[/red]", soft_wrap=True)
        raise typer.Exit(2)
    if wallet is None and cli.chaintrace_dev:
        try:
            wallet = dev_admin_wallet(settings.chain_rpc_url, settings.deployments_file)
        except AdminWalletUnknown as exc:
            console.print(f"[red]{exc}[/red]", soft_wrap=True)
            raise typer.Exit(2) from None
        console.print(
            f"wallet {wallet}: the dev chain's deployer, admin of its contracts", soft_wrap=True
        )
    elif wallet is None:
        console.print(
            "[yellow]no --wallet:[/yellow] set the admin's wallet later with "
            "`chaintrace principals update ID --wallet ADDRESS`",
            soft_wrap=True,
        )
    print(create_admin_key(settings.database_url, name, wallet))


principals_app = typer.Typer(no_args_is_help=True, help="Principals and their API keys (admin).")
app.add_typer(principals_app, name="principals")


def _database_url() -> str:
    url: str | None = _settings(AuditSettings).database_url
    if not url:
        console.print(
            "[red]DATABASE_URL is not set:[/red] set it, or in dev mode (CHAINTRACE_DEV=1) start"
            " `chaintrace up` first: the URL is then read from .chaintrace/run.json"
        )
        raise typer.Exit(2)
    return url


cli_ops.register(app, _database_url)  # backup, restore, erase, audit-log


@app.command("backfill-projections")
def backfill_projections(
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per transaction.")
    ] = 1_000,
    verbose: Verbose = False,
) -> None:
    """Create the kind 2 leaves (public projections) of events recorded before they existed,
    pending in the outbox; idempotent (a second run creates none)."""
    _logging(verbose)
    from rich.progress import Progress

    from chaintrace.backfill import backfill_projections as run
    from chaintrace.backfill import events_to_backfill
    from store.db import session_factory

    engine = _engine(_database_url())
    try:
        sessions = session_factory(engine)
        total = events_to_backfill(sessions)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("backfilling kind 2 leaves", total=total or None)
            result = run(
                sessions,
                batch_size=batch_size,
                on_round=lambda events, _: progress.advance(task, events),
            )
    finally:
        engine.dispose()
    console.print(f"{result.leaves} kind 2 leaves created for {result.events} events")


@principals_app.command("keys")
def principal_keys(
    principal_id: Annotated[int, typer.Argument(help="The principal's id.")],
) -> None:
    """List a principal's API keys: id, label, created, expires, last used, revoked."""
    from chaintrace.bootstrap import list_keys

    for row in list_keys(_database_url(), principal_id):
        print(json.dumps(row))


@principals_app.command("revoke-key")
def principal_revoke_key(
    principal_id: Annotated[int, typer.Argument(help="The principal's id.")],
    key_id: Annotated[int, typer.Argument(help="The key's id (from `principals keys`).")],
) -> None:
    """Revoke one of a principal's API keys, at once and for good."""
    from chaintrace.bootstrap import revoke_key

    print(json.dumps(revoke_key(_database_url(), principal_id, key_id)))


@principals_app.command("update")
def principal_update(
    principal_id: Annotated[int, typer.Argument(help="The principal's id.")],
    wallet: Annotated[str | None, typer.Option(help="Set the principal's wallet.")] = None,
    disable: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Disable or enable it.")
    ] = None,
) -> None:
    """Set a principal's wallet, disable it (none of its keys works) or enable it."""
    from chaintrace.bootstrap import update_principal

    print(json.dumps(update_principal(_database_url(), principal_id, wallet, disable)))
