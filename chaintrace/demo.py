"""`chaintrace demo`: the story on embedded defaults, then every item verified the hard way."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from chain.toolchain.anvil import rpc_request
from chaintrace.arrival_story import AUTO_ACCEPT_S, ArrivalTrip
from chaintrace.bootstrap import create_admin_key
from chaintrace.checks import DemoChecks, run_checks
from chaintrace.demo_webhook import DemoSubscriber
from chaintrace.embedded import EmbeddedServices, start_embedded
from chaintrace.platform import Endpoints, Platform
from chaintrace.story import MINUTE_MS, Story, StoryError

_LOGGER = logging.getLogger(__name__)
console = Console()


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 120) -> Any:
    """Poll `predicate` until it returns something truthy; StoryError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StoryError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def play(story: Story, services: EmbeddedServices, platform: Platform) -> None:
    """Every step of the story, with the waits a real deployment would show as progress."""
    subscriber = DemoSubscriber().start()
    try:
        _play(story, services, subscriber)
    finally:
        subscriber.stop()


def _play(story: Story, services: EmbeddedServices, subscriber: DemoSubscriber) -> None:
    p = story.parties
    steps: list[tuple[str, Callable[[], None]]] = [
        ("admin onboards a brand, a carrier and a buyer", story.onboard),
        (
            "brand registers prefix and product, with its content in en and zh-Hans",
            story.brand_registers,
        ),
        ("brand commissions 10 items and signs the root", story.brand_commissions),
        (
            "brand's EPCIS system captures an inspection at /epcis/capture",
            story.brand_captures_epcis,
        ),
        (
            "brand's EPCIS system subscribes a webhook to its items' shipping and receiving",
            lambda: subscriber.subscribe(story),
        ),
        ("carrier registers 2 loggers (proof of possession)", story.carrier_registers_devices),
        ("buyer and carrier sign the SLA; buyer funds escrow", story.buyer_agrees_and_funds),
        (
            "carrier records shipping",
            lambda: story.record("shipping", story.begin_trip(), p.carrier_key),
        ),
        ("loggers publish signed readings over MQTT", story.devices_publish),
    ]
    n = story.readings_per_device
    steps += [
        (
            "carrier records arriving",
            lambda: story.record("arriving", story.t0_ms + (n + 1) * MINUTE_MS, p.carrier_key),
        ),
        (
            "buyer records receiving",
            lambda: story.record("receiving", story.t0_ms + (n + 3) * MINUTE_MS, p.buyer_key),
        ),
    ]
    for title, step in steps:
        with console.status(title):
            step()
        console.print(f"[green]done[/green] {title}")

    with console.status("delivery worker POSTs the signed EPCIS documents to the webhook"):
        wait_for("the webhook's deliveries", subscriber.got_every_step)
    console.print("[green]done[/green] the brand's webhook got shipping and receiving, signed")
    sid = story.result.shipment_id

    def shipment(shipment_id: str = sid) -> dict[str, Any]:
        return story._call("GET", f"/shipments/{shipment_id}", p.buyer_key)  # type: ignore[no-any-return]

    with console.status("settlement worker attests delivery"):
        wait_for("the attestation", lambda: shipment()["status"] in ("attested", "settled"))
    console.print("[green]done[/green] oracle attested delivery with the excursion minutes")
    trip = second_trip(story)
    window = int(shipment()["terms"].get("disputeWindow", 3600))
    ahead = max(window, AUTO_ACCEPT_S) + 60
    fast_forward(services, ahead)
    console.print(
        f"local chain fast-forwarded {ahead}s: past the {window}s dispute window and the"
        f" {AUTO_ACCEPT_S}s auto-accept after the loggers' arrival"
    )
    with console.status("settlement worker settles the escrow"):
        wait_for("settlement", lambda: shipment()["status"] == "settled")
    with console.status("carrier withdraws its payout"):
        story.payee_withdraws()
    console.print("[green]done[/green] escrow settled and payout withdrawn")
    v2 = trip.result.shipment_id
    with console.status("consignee silent: the oracle attests the devices' arrival (escrow v2)"):
        wait_for("the arrival attestation", lambda: shipment(v2)["status"] == "attested")
    console.print("[green]done[/green] oracle attested the second shipment on device arrival")
    fast_forward(services, window + 60)
    with console.status("settlement worker settles escrow v2; carrier withdraws"):
        wait_for("v2 settlement", lambda: shipment(v2)["status"] == "settled")
        trip.carrier_withdraws()
    console.print("[green]done[/green] second shipment settled without a receiving; paid out")


def second_trip(story: Story) -> ArrivalTrip:
    """The second shipment (escrow v2) up to its loggers' arrival at the shop."""
    trip = ArrivalTrip(story)
    story.arrival = trip
    for title, step in (
        (
            "buyer orders a second delivery under escrow v2; buyer and carrier sign; funded",
            trip.buyer_agrees_and_funds,
        ),
        ("carrier records shipping of the second delivery", trip.carrier_ships),
        (
            "loggers publish live readings: on the road, then inside the shop's fence",
            trip.loggers_drive_to_the_shop,
        ),
    ):
        with console.status(title):
            step()
        console.print(f"[green]done[/green] {title}")
    return trip


def fast_forward(services: EmbeddedServices, seconds: int) -> None:
    """Move the local chain's clock (the escrow's time) forward and mine a block."""
    rpc_request(services.rpc_url, "evm_increaseTime", [seconds])
    rpc_request(services.rpc_url, "evm_mine", [])


def run_demo(state_root: Path, *, keep: bool = False) -> int:
    """Run the demo in `state_root/demo` (wiped first); 0 only if every check held."""
    state_dir = state_root / "demo"
    with console.status("starting anvil, SQLite and the MQTT broker; deploying contracts"):
        services = start_embedded(state_dir, fresh=True, block_time=1.0)
    console.print(
        f"chain {services.rpc_url}  broker {services.mqtt_url} "
        f"({services.broker.kind if services.broker else 'external'})"
        f"  database {services.database_url}"
    )
    platform: Platform | None = None
    try:
        endpoints = Endpoints.of(services)
        platform = Platform.for_dev(endpoints)
        platform.start()
        services.publish_api(platform.api_url)
        admin_key = create_admin_key(
            services.database_url, "demo admin", services.accounts.admin.address
        )
        story = Story(
            platform.api_url,
            services.w3(),
            services.deployment,
            services.accounts,
            admin_key,
            services.mqtt_url,
            services.mqtt_protocol,
        )
        play(story, services, platform)
        checks = run_checks(story, services, platform, state_dir, console)
        print_summary(checks)
        if keep:
            console.print(f"still running: API {platform.api_url} (Ctrl-C stops)")
            _wait_forever()
        return 0 if checks.ok else 1
    except StoryError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        if platform is not None:
            platform.stop()
        services.stop()


def print_summary(c: DemoChecks) -> None:
    """The figures the demo promises, and every check with its outcome."""
    t = Table(title="chaintrace demo", show_header=False)
    long = {"consumer URL", "QR code"}
    for k, v in c.figures.items():
        if k not in long:
            t.add_row(k, str(v))
    console.print(t)
    for k in sorted(long & c.figures.keys()):
        console.print(f"{k}: {c.figures[k]}", soft_wrap=True)
    checks = Table(title="checks")
    checks.add_column("check")
    checks.add_column("result")
    for name, ok, detail in c.results:
        checks.add_row(name, ("[green]ok[/green] " if ok else "[red]FAILED[/red] ") + detail)
    console.print(checks)
    console.print("[green]every check held[/green]" if c.ok else "[red]some checks failed[/red]")


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return
