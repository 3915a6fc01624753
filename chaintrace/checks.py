"""The demo's checks: every item verified the hard way, the whole store audited, money exact."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from rich.console import Console
from sqlalchemy import func, select

from chain.clients import ShipmentView
from chain.clients.shipment_escrow import ShipmentEscrowClient
from chain.clients.trace_anchor import TraceAnchorClient
from chain.clients.trace_anchor_v2 import TraceAnchorV2Client, trace_anchors
from chaintrace.arrival_story import ArrivalTrip
from chaintrace.audit import audit, records_from_store
from chaintrace.embedded import EmbeddedServices
from chaintrace.platform import Platform
from chaintrace.story import Story, StoryError
from core.digital_link import build_link
from core.epcis.projection import projection_hash
from core.hexstr import hex0x
from core.merkle import member_leaf_hash, process_proof
from store.db import make_engine, read_transaction, session_factory
from store.models import AnchorBatch, BatchStatus, Event, Leaf, Reading
from store.models.events import MEMBER_KIND

WEI = 10**18


@dataclass
class DemoChecks:
    """Figures to print and (name, ok, detail) results."""

    figures: dict[str, Any] = field(default_factory=dict)
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(ok for _, ok, _ in self.results)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((name, ok, detail))


def wait_all_final(factory: Any, timeout: float = 120) -> None:
    """Until every leaf is in a batch and every batch is final (nothing is shown final early)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with read_transaction(factory) as s:
            pending = s.scalar(
                select(func.count()).select_from(Leaf).where(Leaf.batch_id.is_(None))
            )
            not_final = s.scalar(
                select(func.count())
                .select_from(AnchorBatch)
                .where(AnchorBatch.status != BatchStatus.FINAL)
            )
        if pending == 0 and not_final == 0:
            return
        time.sleep(0.5)
    raise StoryError(f"events not final after {timeout:.0f}s ({pending} pending leaves)")


def verify_item(
    story: Story, anchors: Mapping[int, TraceAnchorClient], gtin: str, serial: str
) -> tuple[int, list[str]]:
    """Fetch the consumer JSON; recompute each projection's hash from the projection shown and
    its root from the proof; check each proof on chain (verifyMember) at the TraceAnchor release
    the entry names; the verdict must be genuine."""
    link = build_link("", gtin, serial)
    r = story.http.get(link, headers={"Accept": "application/json"})
    if r.status_code != 200:
        return 0, [f"{link}: HTTP {r.status_code}"]
    view = r.json()
    problems: list[str] = []
    if view["authentic"]["verdict"] != "genuine":
        problems.append(f"{serial}: verdict {view['authentic']['verdict']}, not genuine")
    by_address = {a.address: a for a in anchors.values()}
    history = view.get("history", [])
    steps = {e.get("bizStep") for e in history}
    for needed in ("commissioning", "shipping", "arriving", "receiving"):
        if needed not in steps:
            problems.append(f"{serial}: no {needed} event in its history")
    for e in history:
        problem = _entry_problem(e, by_address)
        if problem is not None:
            problems.append(f"{serial}: {e.get('bizStep')} at {e.get('eventTime')}: {problem}")
    return len(history), problems


def _entry_problem(e: dict[str, Any], by_address: Mapping[str, TraceAnchorClient]) -> str | None:
    """Why one public history entry does not check out, or None."""
    recomputed = projection_hash(e["projection"])
    if hex0x(recomputed) != e["projectionHash"]:
        return "the projection does not hash to its projectionHash"
    if not e["proven"] or e["finality"] != "final":
        return f"projection {'' if e['proven'] else 'not proven, '}{e['finality']}, not final"
    salt = bytes.fromhex(e["salt"][2:])
    proof = [bytes.fromhex(p[2:]) for p in e["proof"]]
    leaf = member_leaf_hash(e["eventKind"], recomputed, salt)
    if hex0x(process_proof(leaf, proof)) != e["root"]:
        return "the proof does not lead to the root shown"
    anchor = by_address.get(e["anchoring"]["contract"])
    if not isinstance(anchor, TraceAnchorV2Client):
        return "names no TraceAnchor v2 release (kind 2 leaves are verified there)"
    if not anchor.verify_member(e["eventKind"], recomputed, salt, proof):
        return "proof rejected by the contract"
    return None


def run_checks(
    story: Story, services: EmbeddedServices, platform: Platform, state_dir: Path, console: Console
) -> DemoChecks:
    """Everything the demo promises, each as a named check."""
    c = DemoChecks()
    engine = make_engine(services.database_url)
    factory = session_factory(engine)
    w3 = services.w3()
    anchors = trace_anchors(w3, services.deployment.releases)
    escrow = ShipmentEscrowClient(w3, services.deployment.shipment_escrow)
    try:
        with console.status("waiting until every event is anchored and final"):
            wait_all_final(factory)
        # 1. every item, the hard way, through the public resolver
        checked, problems = 0, []
        for gtin, serial in story.result.items:
            n, p = verify_item(story, anchors, gtin, serial)
            checked += n
            problems += p
        c.check(
            "every item: projection hashes recomputed, proofs accepted on chain",
            not problems and checked > 0,
            f"{len(story.result.items)} items, {checked} projection proofs"
            + (f"; {problems[:3]}" if problems else ""),
        )
        # 2. the auditor's check over the whole store
        upgrade_block = services.deployment.roots_anchor.block
        report = audit(records_from_store(factory), anchors, upgrade_block)
        c.check(
            "audit: store == chain",
            report.ok and report.pending == 0,
            f"{report.events} events, {report.batches} roots rebuilt and anchored"
            + (f"; {report.failures[:3]}" if report.failures else ""),
        )
        c.check(
            "audit: every commissioning is the brand's word",
            report.commissionings > 0 and not report.not_brand_confirmed,
            f"{report.brand_confirmed} of {report.commissionings} in roots the brand signed"
            + (f"; {report.not_brand_confirmed[:3]}" if report.not_brand_confirmed else ""),
        )
        # 3. money
        sid = bytes.fromhex(story.result.shipment_id[2:])
        head = int(w3.eth.block_number)
        view = escrow.shipment(sid, block=head)
        shipment = story.followed(f"/shipments/{story.result.shipment_id}", head)
        c.check(
            "the API shows the escrow the chain holds",
            _same_escrow(shipment["escrow"], view),
            f"{shipment['escrow']['state']} as of block {shipment['escrow']['asOfBlock']}",
        )
        terms = shipment["terms"]
        minutes = int(shipment.get("excursionMinutes") or 0)
        bps = min(minutes * int(terms["penaltyBpsPerMinute"]), int(terms["penaltyCapBps"]))
        expected_penalty = story.result.amount_wei * bps // 10_000
        c.check(
            "settlement: payout = amount - penalty, payout + refund = deposit",
            view.payout + view.refund == story.result.amount_wei
            and view.refund == expected_penalty
            and minutes > 0,
            f"{minutes} excursion minutes -> penalty {expected_penalty / WEI:.4f} ETH",
        )
        c.check(
            "payout withdrawn by the carrier",
            story.result.withdrawn_wei == view.payout
            and escrow.owed(story.acc.carrier.address) == 0,
            f"{story.result.withdrawn_wei / WEI:.4f} ETH in tx {story.result.withdraw_tx[:18]}...",
        )
        # 4. the QR code
        gtin, serial = story.result.items[0]
        qr_path = state_dir / "qr-item-1.png"
        r = story.http.get("/qr" + build_link("", gtin, serial))
        qr_path.write_bytes(r.content)
        link = build_link(platform.api_settings.base_url, gtin, serial)
        decoded = _decode_qr(r.content)
        c.check(
            "QR code encodes the item's Digital Link",
            r.status_code == 200 and decoded == link,
            f"decoded: {decoded}",
        )
        with read_transaction(factory) as s:
            batches = s.scalars(select(AnchorBatch)).all()
            events = s.scalar(select(func.count()).select_from(Event)) or 0
            readings = s.scalar(select(func.count()).select_from(Reading)) or 0
            projections = (
                s.scalar(
                    select(func.count())
                    .select_from(Leaf)
                    .where(Leaf.kind == MEMBER_KIND, Leaf.batch_id.is_not(None))
                )
                or 0
            )
        gas = sum(b.gas_used or 0 for b in batches)
        leaves = sum(b.leaf_count for b in batches)
        c.figures.update(
            {
                "items": len(story.result.items),
                "events": events,
                "readings stored": f"{readings} of {story.result.readings_sent} sent",
                "batches (roots anchored)": len(batches),
                "leaves anchored": f"{leaves} ({projections} public projections)",
                "gas per anchored leaf": f"{gas / leaves:,.0f}" if leaves else "n/a",
                "excursion minutes": minutes,
                "payout": f"{view.payout / WEI:.4f} ETH",
                "penalty (refunded to buyer)": f"{view.refund / WEI:.4f} ETH",
                "consumer URL": link,
                "QR code": str(qr_path.resolve()),
            }
        )
        _arrival_checks(c, story, w3)
        c.check(
            "every reading sent was stored once",
            readings == story.result.readings_sent,
            f"{readings} stored",
        )
    finally:
        engine.dispose()
    return c


def _arrival_checks(c: DemoChecks, story: Story, w3: Any) -> None:
    """The second shipment: escrow v2 paid on the loggers' arrival, the consignee silent."""
    trip = story.arrival
    if not isinstance(trip, ArrivalTrip):
        c.check("second shipment (escrow v2) played", False, "not played")
        return
    sid = trip.result.shipment_id
    view = trip.escrow.shipment(sid, block=int(w3.eth.block_number))
    logs = trip.escrow.contract.events.DeliveryAttested().get_logs(
        argument_filters={"shipmentId": bytes.fromhex(sid[2:])}, from_block=0
    )
    basis = int(logs[-1]["args"]["deliveryBasis"]) if logs else None
    shown = story._call("GET", f"/shipments/{sid}", story.parties.buyer_key)
    c.check(
        "escrow v2: paid on device arrival with no receiving (basis 1 at the arrival time)",
        basis == 1
        and view.delivered_at == trip.result.arrival_ms // 1000
        and (view.payout, view.refund) == (trip.result.amount_wei, 0)
        and shown["status"] == "settled",
        f"delivered at {view.delivered_at} (arrival {trip.result.arrival_ms // 1000}),"
        f" payout {view.payout / WEI:.4f} ETH",
    )
    c.check(
        "escrow v2 payout withdrawn by the carrier",
        trip.result.withdrawn_wei == view.payout
        and trip.escrow.owed(story.acc.carrier.address) == 0,
        f"{trip.result.withdrawn_wei / WEI:.4f} ETH in tx {trip.result.withdraw_tx[:18]}...",
    )
    c.figures["second shipment (escrow v2)"] = (
        f"settled on device arrival, {view.payout / WEI:.4f} ETH to the carrier"
    )


def _same_escrow(shown: dict[str, Any] | None, view: ShipmentView) -> bool:
    """Whether the API's escrow (the chain follower's view) is the escrow's own record."""
    return (
        shown is not None
        and shown["state"] == view.state.name.lower()
        and shown["termsHashMatches"]
        and (shown["amountWei"], shown["payoutWei"], shown["refundWei"])
        == (str(view.amount), str(view.payout), str(view.refund))
        and shown["attestedAt"] == (view.attested_at or None)
        and shown["disputeEndsAt"] == view.dispute_ends_at
    )


def _decode_qr(png: bytes) -> str:
    """The text in a QR PNG, read back with zxing-cpp."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found[0].text if found else ""


def dispute_checks(story: Story, services: EmbeddedServices) -> DemoChecks:
    """The dispute story's promises: evidence on record, the arbiter's split, exact withdrawals."""
    c = DemoChecks()
    r = story.result
    w3 = services.w3()
    escrow = ShipmentEscrowClient(w3, services.deployment.shipment_escrow)
    head = int(w3.eth.block_number)
    view = escrow.shipment(bytes.fromhex(r.shipment_id[2:]), block=head)
    # The API answers from the chain follower's view: both reads wait until it has read `head`.
    dispute = story.followed(f"/shipments/{r.shipment_id}/dispute", head)
    on_record = [
        (e["submitter"], e["readingDigest"], e["txHash"]) for e in dispute.get("evidence", [])
    ]
    c.check(
        "EvidenceSubmitted names the buyer's reading",
        on_record == [(story.acc.buyer.address, r.evidence_digest, r.evidence_tx)],
        f"{len(on_record)} evidence event(s), digest {r.evidence_digest[:18]}...",
    )
    shipment = story.followed(f"/shipments/{r.shipment_id}", head)
    c.check(
        "the API shows the escrow the chain holds",
        _same_escrow(shipment["escrow"], view)
        and (dispute["state"], dispute["disputedAt"])
        == (shipment["escrow"]["state"], view.disputed_at),
        f"{dispute['state']} as of block {dispute['asOfBlock']}",
    )
    refund = r.amount_wei - r.arbiter_payout_wei
    c.check(
        "the arbiter's split settled the escrow and the worker recorded it",
        view.state.name == "SETTLED"
        and (view.payout, view.refund) == (r.arbiter_payout_wei, refund)
        and shipment["status"] == "settled"
        and (shipment["payoutWei"], shipment["refundWei"])
        == (str(r.arbiter_payout_wei), str(refund)),
        f"payout {r.arbiter_payout_wei / WEI:.4f} ETH, refund {refund / WEI:.4f} ETH",
    )
    c.check(
        "carrier and buyer withdrew exactly their shares",
        (r.withdrawn_wei, r.buyer_withdrawn_wei) == (r.arbiter_payout_wei, refund)
        and escrow.owed(story.acc.carrier.address) == 0
        and escrow.owed(story.acc.buyer.address) == 0,
        f"{r.withdrawn_wei / WEI:.4f} + {r.buyer_withdrawn_wei / WEI:.4f} ETH",
    )
    return c
