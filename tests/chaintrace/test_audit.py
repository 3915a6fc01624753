"""`chaintrace verify`'s audit on a real anvil: every hash recomputed, every proof checked with
eth_call, every root rebuilt; each kind of tampering with the store is named, none crashes it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.anchoring.worker import AnchorWorker
from chain.clients.trace_anchor_v2 import trace_anchors
from chain.follower import ChainFollower
from chain.releases import TRACE_ANCHOR_V1
from chain.settings import FollowSettings
from chain.toolchain.deploy import ensure_deployed
from chaintrace.audit import (
    AuditRecord,
    audit,
    read_export,
    records_from_store,
    write_export,
)
from chaintrace.audit_authenticity import ChainFacts
from core.eip712 import Commissioning, sign
from core.epcis import event_hash
from core.epcis.hashed_event import HashedEvent
from core.gs1 import check_digit
from core.merkle import MerkleTree, leaf_hash
from store.brand_standing import BrandLedger, Registry
from store.models import AnchorBatch, Event, Leaf
from tests.utils import workers
from tests.utils.anchored_store import N, audited
from tests.utils.anchored_store import anchored as anchored  # the fixture
from tests.utils.anvil import (  # noqa: F401 (pytest fixtures: chain_snapshot and what it uses)
    ChainEnv,
    anvil_node,
    chain_env,
    chain_snapshot,
    first_release,
)


def test_an_untouched_store_passes_and_its_export_rechecks_alike(
    anchored: ChainEnv, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = audited(anchored, db_sessions)
    assert report.failures == [] and report.ok
    assert report.events == report.hashes_recomputed == report.proofs_verified_on_chain == N
    assert report.projections == report.projections_verified_on_chain == N  # a kind 2 leaf each
    assert report.batches == report.roots_rebuilt == 2 and report.pending == 0
    path = tmp_path / "export.json"
    path.write_text("an older export, readable by all")
    path.chmod(0o644)
    assert write_export(records_from_store(db_sessions), path) == 2 * N  # events, kind 2 leaves
    assert path.stat().st_mode & 0o777 == 0o600  # it holds every salt
    assert audit(read_export(path), anchored.anchors) == report


def test_an_edited_event_is_named(anchored: ChainEnv, db_sessions: sessionmaker[Session]) -> None:
    with store.transaction(db_sessions) as session:
        event = session.scalars(select(Event).order_by(Event.id)).first()
        assert event is not None
        body = json.loads(event.event_json)
        body["bizStep"] = "receiving"
        event.event_json = json.dumps(body)
        edited = "0x" + event.event_hash.hex()
    report = audited(anchored, db_sessions)
    assert report.failures == [
        f"event {edited[:18]}: canonical hash of the stored JSON differs",
        # Its kind 2 leaf's projection is no longer P(event, epc) of the edited event.
        f"kind 2 leaf of event {event.id} for {body['epcList'][0]}: the stored projection is"
        " not P(event, epc)",
    ]
    assert report.proofs_verified_on_chain == N - 1


def test_a_leaf_outside_its_batch_tree_is_named_not_a_crash(
    anchored: ChainEnv, db_sessions: sessionmaker[Session]
) -> None:
    # The stored leaf hash no longer matches any leaf of its batch's tree: no proof can be read.
    with store.transaction(db_sessions) as session:
        leaf = session.scalars(select(Leaf).order_by(Leaf.id)).first()
        assert leaf is not None
        leaf.leaf_hash = bytes(32)
        root = "0x" + session.get_one(AnchorBatch, leaf.batch_id).root.hex()
    report = audited(anchored, db_sessions)
    assert len(report.failures) == 1
    assert report.failures[0].endswith(f"the contract rejects its proof to root {root}")


def test_a_tampered_tree_is_named(anchored: ChainEnv, db_sessions: sessionmaker[Session]) -> None:
    with store.transaction(db_sessions) as session:
        batch = session.scalars(select(AnchorBatch).order_by(AnchorBatch.id)).first()
        assert batch is not None and batch.tree_nodes is not None
        nodes = bytearray(batch.tree_nodes)
        nodes[32:64] = bytes(32)  # the root's left child
        batch.tree_nodes = bytes(nodes)
        count = batch.leaf_count
    report = audited(anchored, db_sessions)
    # Every leaf whose path runs through that node is rejected by the contract.
    assert 0 < len(report.failures) <= count
    assert all("the contract rejects its proof" in f for f in report.failures)


def test_proofs_kept_on_the_leaves_before_trees_were_stored_pass(
    anchored: ChainEnv, db_sessions: sessionmaker[Session]
) -> None:
    with store.transaction(db_sessions) as session:
        for batch in session.scalars(select(AnchorBatch)):
            for leaf in batch.leaves:
                leaf.proof = store.leaf_proof(leaf, batch)
        session.execute(update(AnchorBatch).values(tree_nodes=None))
    report = audited(anchored, db_sessions)
    assert report.ok and report.proofs_verified_on_chain == N


def commissioning(serial: str) -> dict[str, object]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-22T09:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{serial}"],
        "action": "ADD",
        "bizStep": "commissioning",
    }


def one_leaf_batch(
    session: Session, env: ChainEnv, serial: str, *, signed_by_brand: bool
) -> AnchorBatch:
    """A commissioning event of `serial` in a one-leaf batch for TraceAnchor v2; with
    `signed_by_brand`, the brand's signature on its root (else a platform batch)."""
    body = commissioning(serial)
    hashed = HashedEvent(0, event_hash(body), json.dumps(body), "ObjectEvent", "commissioning", 1)
    # As a commissioning was stored before kind 2 leaves: its own leaf alone.
    store.record_event(session, hashed, recorded_by=None, members=[])
    leaves = store.claim_pending_leaves(session, 1)
    tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
    batch = store.create_batch(session, tree, leaves, anchor_version=2)
    if signed_by_brand:
        message = Commissioning(brand=env.brand.address, root=tree.root, leaf_count=1)
        batch.brand_address = env.brand.address
        batch.brand_signature = sign(message, env.anchor.domain(), env.brand.key)
    return batch


def anchor_worker(env: ChainEnv, db_url: str, sessions: sessionmaker[Session]) -> AnchorWorker:
    return workers.anchor_worker(env, db_url, sessions, confirmations=1)


def test_a_commissioning_in_a_platform_root_is_reported_and_a_brand_signed_one_confirmed(
    chain_snapshot: ChainEnv,  # noqa: F811 (the fixture)
    db_url: str,
    db_sessions: sessionmaker[Session],
) -> None:
    env = chain_snapshot
    env.anchor.send_register_brand(env.admin, env.brand.address, "4012345")
    with store.transaction(db_sessions) as session:
        # How an earlier release re-anchored a refused brand root: as a platform batch.
        platform_root = "0x" + one_leaf_batch(session, env, "P1", signed_by_brand=False).root.hex()
        one_leaf_batch(session, env, "B1", signed_by_brand=True)
    anchor_worker(env, db_url, db_sessions).run_once()
    report = audited(env, db_sessions)
    assert report.ok and report.proofs_verified_on_chain == 2
    assert (report.commissionings, report.brand_confirmed) == (2, 1)
    assert report.not_brand_confirmed == [
        f"urn:epc:id:sgtin:4012345.011111.P1 in root {platform_root}: not_brand_signed"
    ]


def test_an_export_of_the_previous_format_still_reads(
    anchored: ChainEnv, db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Exports written before TraceAnchor v2 carry no release: every root was on v1."""
    path = tmp_path / "export.json"
    write_export(records_from_store(db_sessions), path)
    data = json.loads(path.read_text())
    assert data["format"] == "chaintrace-audit-export/v4"
    data["format"] = "chaintrace-audit-export/v1"
    # A v1 export held no kind 2 leaf (v4).
    data["records"] = [r for r in data["records"] if r["kind"] != 2]
    for record in data["records"]:
        assert record.pop("anchor_version") == anchored.deployment.roots_anchor.version
        for newer_field in ("leaf_hash", "erased_at", "erased_by", "epc", "projection_json"):
            record.pop(newer_field)
        record.pop("event_kind")
    path.write_text(json.dumps(data))
    assert {r.anchor_version for r in read_export(path)} == {1}


def test_a_refused_brand_root_is_counted_not_failed(
    chain_snapshot: ChainEnv,  # noqa: F811 (the fixture)
    db_url: str,
    db_sessions: sessionmaker[Session],
) -> None:
    """A brand's root the chain refused keeps its leaves and is on no chain: the audit counts
    it as refused; it is no failure of the store (which says exactly that)."""
    env = chain_snapshot
    env.anchor.send_register_brand(env.admin, env.brand.address, "4012345")
    with store.transaction(db_sessions) as session:
        batch = one_leaf_batch(session, env, "R1", signed_by_brand=True)
    env.anchor.send_revoke_brand(env.admin, env.brand.address)
    worker = anchor_worker(env, db_url, db_sessions)
    assert worker.run_once().failed == [batch.id]
    report = audited(env, db_sessions)
    assert report.ok, report.failures
    assert (report.refused, report.pending, report.commissionings) == (1, 0, 0)


def test_a_root_signed_by_a_key_an_earlier_release_registered_after_the_upgrade_is_reported(
    chain_snapshot: ChainEnv,  # noqa: F811 (the fixture)
) -> None:
    """A forged export: a commissioning of the brand's GTIN in a TraceAnchor v1 root signed by
    an account v1 registered (for the brand's prefix) after v2 was deployed. It verifies on v1,
    but that registration does not count: reported, not confirmed."""
    env = chain_snapshot
    env.anchor.send_register_brand(env.admin, env.brand.address, "4012345")  # v2: the brand
    env.anchor_v1.send_register_brand(env.admin, env.stranger.address, "4012345")  # v1, later
    body = commissioning("F1")
    salt = b"\x07" * 32
    leaf = leaf_hash(0, event_hash(body), salt)
    message = Commissioning(brand=env.stranger.address, root=leaf, leaf_count=1)
    signature = sign(message, env.anchor_v1.domain(), env.stranger.key)
    env.anchor_v1.send_anchor_commissioning(env.stranger, leaf, 1, env.stranger.address, signature)
    forged = AuditRecord(
        kind=0,
        event_json=json.dumps(body),
        event_hash="0x" + event_hash(body).hex(),
        salt="0x" + salt.hex(),
        proof=[],
        root="0x" + leaf.hex(),
        tx_hash=None,
        block_number=None,
        anchor_version=1,
    )
    report = audit([forged], env.anchors, env.deployment.roots_anchor.block)
    assert report.ok and report.proofs_verified_on_chain == 1
    assert report.brand_confirmed == 0
    assert report.not_brand_confirmed == [
        f"urn:epc:id:sgtin:4012345.011111.F1 in root 0x{leaf.hex()}: not_brand_signed"
    ]
    # Counting v1's registrations at any time (no upgrade block) would have confirmed it.
    assert audit([forged], env.anchors).brand_confirmed == 1


def test_the_auditor_and_the_resolvers_view_agree_on_a_nested_prefix_left_behind(
    chain_snapshot: ChainEnv,  # noqa: F811 (the fixture)
    db_url: str,
    db_sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    """v1 allowed a nested prefix that the upgrade does not carry over to v2: neither the
    resolver's facts (the follower's view) nor the auditor's (the chain) count it."""
    env = chain_snapshot
    roles = (env.admin.address, env.anchorer.address, env.oracle.address)
    path = tmp_path / "deployments.json"
    _, v1 = first_release(env, path)
    v1.send_register_brand(env.admin, env.brand.address, "9520001")
    v1.send_register_brand(env.admin, env.buyer.address, "95200011")  # nested, v1 took it
    new = ensure_deployed(env.w3, env.deployer, *roles, path=path)
    settings = FollowSettings(chaintrace_dev=True, database_url=db_url, follow_max_range=1000)
    follower = ChainFollower(settings, db_sessions, env.w3, new)
    while follower.run_once().to_block is not None:
        pass
    upgrade = new.roots_anchor
    trusted = (
        Registry(upgrade.address),
        *(Registry(r.address, upgrade.block) for r in new.releases if r.spec == TRACE_ANCHOR_V1),
    )
    body = "0" + "95200011" + "0001"
    gtin = body + check_digit(body)
    with db_sessions() as session:
        resolver_prefix = BrandLedger.load(session, trusted).prefix_of_gtin(gtin)
        assert BrandLedger.load(session, trusted).standing(env.buyer.address) is None
    facts = ChainFacts(trace_anchors(env.w3, new.releases), upgrade.block)
    assert facts.brand(env.buyer.address) is None
    assert resolver_prefix == "9520001" == facts.item_prefix(gtin, "95200011")
