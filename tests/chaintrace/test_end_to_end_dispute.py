"""End to end, the dispute story: after the oracle's attestation the buyer disputes, submits one
out-of-band reading as evidence, and the arbiter named in the terms resolves with its own split.

Real parts as in test_end_to_end.py: anvil, Mosquitto, PostgreSQL, the API over HTTP, devices over
MQTT, users' transactions built by the API and signed by their own wallets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chain.clients.shipment_escrow import ShipmentEscrowClient
from chain.toolchain.anvil import dev_accounts
from chaintrace.bootstrap import create_admin_key
from chaintrace.checks import dispute_checks
from chaintrace.demo import wait_for
from chaintrace.embedded import start_embedded
from chaintrace.platform import Endpoints, Platform
from chaintrace.story import MINUTE_MS, Story

AMOUNT = 10**18
ARBITER_PAYOUT = AMOUNT * 7 // 10  # the arbiter's split: 70 % to the carrier, 30 % back


def test_a_dispute_with_evidence_resolved_by_the_arbiter(
    pg_db_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    services = start_embedded(
        tmp_path / "state", database_url=pg_db_url, mqtt_url=mqtt_url, mqtt_protocol="5"
    )
    platform = None
    try:
        platform = Platform.for_dev(Endpoints.of(services)).start()
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
            readings_per_device=30,
        )
        arbiter = dev_accounts(8)[7]  # a wallet no DevAccounts role uses
        assert arbiter.address not in {a.address for a in vars(services.accounts).values()}
        p = story.parties
        n = story.readings_per_device

        story.onboard()
        story.arbiter_onboards(arbiter)
        story.brand_registers()
        story.brand_commissions()
        story.carrier_registers_devices()
        story.buyer_agrees_and_funds(AMOUNT, arbiter=arbiter.address, dispute_timeout=86_400)
        story.record("shipping", story.begin_trip(), p.carrier_key)
        story.devices_publish()
        story.record("arriving", story.t0_ms + (n + 1) * MINUTE_MS, p.carrier_key)
        story.record("receiving", story.t0_ms + (n + 3) * MINUTE_MS, p.buyer_key)
        sid = story.result.shipment_id

        def status() -> Any:
            return story._call("GET", f"/shipments/{sid}", p.buyer_key)["status"]

        wait_for("the attestation", lambda: status() in ("attested", "settled"))
        assert status() == "attested"  # the dispute window is an hour of chain time

        story.buyer_disputes()
        story.buyer_submits_evidence()
        story.arbiter_resolves(ARBITER_PAYOUT)
        wait_for("the worker to record the resolution", lambda: status() == "settled")
        story.payee_withdraws()
        story.buyer_withdraws()

        checks = dispute_checks(story, services)
        failed = [(name, detail) for name, ok, detail in checks.results if not ok]
        assert checks.ok and not failed, failed
        _assert_on_chain(story, ShipmentEscrowClient(w3, services.deployment.shipment_escrow))
    finally:
        if platform is not None:
            platform.stop()
        services.stop()


def _assert_on_chain(story: Story, escrow: ShipmentEscrowClient) -> None:
    """The contract's own events, read without the API."""
    sid = bytes.fromhex(story.result.shipment_id[2:])
    (evidence,) = escrow.contract.events.EvidenceSubmitted().get_logs(
        argument_filters={"shipmentId": sid}, from_block=0
    )
    device, seq, digest = story.result.hot_readings[0]
    args = evidence["args"]
    assert "0x" + bytes(args["readingDigest"]).hex() == digest
    assert (args["device"], args["seq"], args["submitter"]) == (
        device,
        seq,
        story.acc.buyer.address,
    )
    assert args["temperatureCentiC"] == 950  # the excursion the buyer put on record
    (attested,) = escrow.contract.events.DeliveryAttested().get_logs(
        argument_filters={"shipmentId": sid}, from_block=0
    )
    # 8 hot minutes - 2 grace = 6 x 100 bps: the arbiter's split replaced the attestation's.
    assert attested["args"]["payout"] == AMOUNT - AMOUNT * 600 // 10_000 != ARBITER_PAYOUT
    (resolved,) = escrow.contract.events.DisputeResolved().get_logs(
        argument_filters={"shipmentId": sid}, from_block=0
    )
    assert (resolved["args"]["arbiter"], resolved["args"]["payout"]) == (
        story.arbiter.address if story.arbiter else None,
        ARBITER_PAYOUT,
    )
    assert escrow.owed(story.acc.carrier.address) == escrow.owed(story.acc.buyer.address) == 0
