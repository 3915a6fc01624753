"""End to end on real parts: anvil, Mosquitto, PostgreSQL, the API over HTTP, devices over MQTT."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sqlalchemy import func, select
from web3 import Web3

from chain.clients.shipment_escrow import ShipmentEscrowClient
from chain.clients.trace_anchor import TraceAnchorClient
from chain.clients.trace_anchor_v2 import trace_anchors
from chaintrace.bootstrap import create_admin_key
from chaintrace.checks import run_checks
from chaintrace.demo import console, play
from chaintrace.embedded import start_embedded
from chaintrace.platform import Endpoints, Platform
from chaintrace.story import SERIALS, Story
from core.digital_link import build_link
from store.db import make_engine, session_factory
from store.models import AnchorBatch, Event, Leaf
from store.models.events import MEMBER_KIND
from tests.core.epcis.reference_oracle import reference_event_hash

CONFIRMATIONS = 2


class FinalityWatcher:
    """Polls the consumer JSON during the run; records any event shown final too early."""

    def __init__(self, story: Story, w3: Web3) -> None:
        self.story, self.w3 = story, w3
        self.too_early: list[str] = []
        self.polls = 0
        self.seen_final: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        link = build_link("", "00614141000012", SERIALS[0])
        while not self._stop.wait(0.3):
            r = self.story.http.get(link, headers={"Accept": "application/json"})
            head = self.w3.eth.block_number  # read after the answer: the server's head was <= this
            if r.status_code != 200:
                continue
            self.polls += 1
            for e in r.json()["history"]:
                if e["finality"] != "final":
                    continue
                self.seen_final.add(e["projectionHash"])
                block = e["anchoring"]["blockNumber"]
                if block is None or block + CONFIRMATIONS > head:
                    self.too_early.append(f"{e['bizStep']} final at block {block}, head {head}")


def test_the_demo_story_on_postgres_and_mosquitto(
    pg_db_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    services = start_embedded(
        tmp_path / "state", database_url=pg_db_url, mqtt_url=mqtt_url, mqtt_protocol="5"
    )
    platform = None
    watcher = None
    try:
        endpoints = Endpoints.of(services)
        overrides = {
            "finality": "confirmations",
            "confirmations": CONFIRMATIONS,
            # The watcher polls the resolver ~200 times a minute from the same address the
            # story's checks use; the default 120/minute per client would starve the checks.
            "rate_limit_resolver": "10000/minute",
        }
        platform = Platform.for_dev(endpoints, overrides=overrides).start()
        admin_key = create_admin_key(pg_db_url, "e2e admin", services.accounts.admin.address)
        w3 = services.w3()
        story = Story(
            platform.api_url,
            w3,
            services.deployment,
            services.accounts,
            admin_key,
            services.mqtt_url,
            services.mqtt_protocol,
        )
        watcher = FinalityWatcher(story, w3)
        watcher.start()
        play(story, services, platform)
        checks = run_checks(story, services, platform, tmp_path, console)
        watcher.stop()

        failed = [(name, detail) for name, ok, detail in checks.results if not ok]
        assert not failed, failed
        assert watcher.polls > 0 and watcher.seen_final, "the watcher never saw a final event"
        assert not watcher.too_early, watcher.too_early

        _assert_each_event_final_once(
            pg_db_url, list(trace_anchors(w3, services.deployment.releases).values())
        )
        _assert_money_exact(story, ShipmentEscrowClient(w3, services.deployment.shipment_escrow))
        _assert_reference_hashes_every_event(pg_db_url)
    finally:
        if watcher is not None:
            watcher.stop()
        if platform is not None:
            platform.stop()
        services.stop()


def _assert_each_event_final_once(url: str, anchors: list[TraceAnchorClient]) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            events = s.scalar(select(func.count()).select_from(Event))
            leaves = s.execute(select(Leaf.event_id, Leaf.batch_id, Leaf.kind)).all()
            batches = s.scalars(select(AnchorBatch)).all()
    finally:
        engine.dispose()
    own = [(event_id, batch_id) for event_id, batch_id, kind in leaves if kind != MEMBER_KIND]
    assert events and len(own) == events
    assert all(batch_id is not None for _, batch_id, _ in leaves)
    assert len({event_id for event_id, _ in own}) == events  # one event leaf per event
    assert len(leaves) > events  # and the kind 2 leaves of the items' events
    assert all(b.status.value == "final" for b in batches)
    assert sum(b.leaf_count for b in batches) == len(leaves)  # no leaf in two batches
    roots = [  # over every TraceAnchor release: each root on chain exactly once, in one of them
        bytes(log["args"]["root"])
        for anchor in anchors
        for log in anchor.contract.events.RootAnchored().get_logs(from_block=0)
    ]
    assert sorted(roots) == sorted(b.root for b in batches)


def _assert_reference_hashes_every_event(url: str) -> None:
    """GS1's reference tool, unpatched, hashes each event the story stored to its stored hash."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            stored = s.execute(select(Event.event_json, Event.event_hash)).all()
    finally:
        engine.dispose()
    kinds = {json.loads(text).get("bizStep") for text, _ in stored}
    # inspecting: the brand's EPCIS document, captured through /epcis/capture, anchored like all
    assert {"commissioning", "shipping", "receiving", "sensor_reporting", "inspecting"} <= kinds
    failed = []
    for text, digest in stored:
        try:
            theirs: object = reference_event_hash(json.loads(text))
        except Exception as exc:  # the reference's own failure (IndexError, ...), reported
            theirs = repr(exc)
        if theirs != bytes(digest):
            failed.append((json.loads(text).get("bizStep"), theirs))
    assert not failed, f"{len(failed)} of {len(stored)} events: {failed[:3]}"


def _assert_money_exact(story: Story, escrow: ShipmentEscrowClient) -> None:
    # Device 0 logged 8 minutes at 9.50 degC (band 2-8 degC); grace 2 minutes -> 6 minutes.
    # 6 min x 100 bps = 600 bps of 1 ETH.
    amount = story.result.amount_wei
    view = escrow.shipment(bytes.fromhex(story.result.shipment_id[2:]))
    assert view.refund == amount * 600 // 10_000
    assert view.payout == amount - view.refund
    assert story.result.withdrawn_wei == view.payout
    buyer = story.acc.buyer
    assert escrow.owed(buyer.address) == view.refund
    escrow.send_withdraw(buyer)
    assert escrow.owed(buyer.address) == 0
    assert escrow.owed(story.acc.carrier.address) == 0
