"""The anchoring worker relays brand-signed commissioning batches with anchorCommissioning."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.anchoring.worker import AnchorWorker
from chain.clients import TraceAnchorV2Client
from chain.releases import TRACE_ANCHOR_V2
from core.eip712 import Commissioning, sign
from core.merkle import MerkleTree
from store.models import AnchorBatch, BatchStatus, Leaf
from tests.utils.anvil import ChainEnv
from tests.utils.store_factories import make_event
from tests.utils.workers import anchor_worker

PREFIX = "9520001"


def worker(env: ChainEnv, db_url: str, sessions: sessionmaker[Session]) -> AnchorWorker:
    return anchor_worker(env, db_url, sessions)


def commissioning_batch(
    env: ChainEnv, sessions: sessionmaker[Session], n: int, signer: Any = None
) -> tuple[int, bytes]:
    """A pending batch of n events whose root the brand signed, recorded as the API does."""
    with store.transaction(sessions) as session:
        for _ in range(n):
            make_event(session, biz_step="commissioning")
        leaves = store.claim_pending_leaves(session, n)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        version = env.deployment.roots_anchor.version
        batch = store.create_batch(session, tree, leaves, anchor_version=version)
        message = Commissioning(brand=env.brand.address, root=tree.root, leaf_count=n)
        domain = env.anchor.domain()
        batch.brand_address = env.brand.address
        batch.brand_signature = sign(message, domain, (signer or env.brand).key)
        return batch.id, tree.root


def register_brand(env: ChainEnv) -> None:
    env.anchor.send_register_brand(env.admin, env.brand.address, PREFIX)


def batch_row(sessions: sessionmaker[Session], batch_id: int) -> AnchorBatch:
    with sessions() as session:
        batch = session.get(AnchorBatch, batch_id)
        assert batch is not None
        return batch


def test_a_brand_signed_batch_is_relayed_as_the_brands_root(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    register_brand(env)
    batch_id, root = commissioning_batch(env, db_sessions, 6)
    report = worker(env, db_url, db_sessions).run_once()
    assert report.signed == [batch_id] and report.anchored == [batch_id]
    info = env.anchor.root_info(root)
    assert info.anchored and info.leaf_count == 6 and info.brand == env.brand.address
    assert batch_row(db_sessions, batch_id).status is BatchStatus.ANCHORED
    with db_sessions() as session:
        rows = session.execute(select(Leaf).where(Leaf.batch_id == batch_id)).scalars().all()
        for leaf in rows:
            event = leaf.event
            assert env.anchor.verify_against(
                root, event.kind, event.event_hash, leaf.salt, store.leaf_proof(leaf, leaf.batch)
            )


def test_an_unregistered_brand_waits_and_is_relayed_once_registered(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    batch_id, root = commissioning_batch(env, db_sessions, 3)
    anchor_worker = worker(env, db_url, db_sessions)
    report = anchor_worker.run_once()
    assert report.signed == [] and report.failed == []
    assert batch_row(db_sessions, batch_id).status is BatchStatus.PENDING
    register_brand(env)
    assert anchor_worker.run_once().anchored == [batch_id]
    assert env.anchor.root_info(root).brand == env.brand.address


def refused_batch_stays_failed(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], batch_id: int, root: bytes
) -> AnchorBatch:
    """Two passes of the worker: the batch fails once, and nothing of it is anchored after."""
    anchor_worker = worker(env, db_url, db_sessions)
    report = anchor_worker.run_once()
    assert report.failed == [batch_id] and report.anchored == []
    again = anchor_worker.run_once()
    assert again.signed == again.anchored == []
    refused = batch_row(db_sessions, batch_id)
    assert refused.status is BatchStatus.FAILED and refused.relay_refused_at is not None
    # The brand and its (refused) signature stay on record, and the leaves stay with the batch:
    # commissioning leaves go into no root the brand did not sign.
    assert refused.brand_address == env.brand.address and refused.brand_signature is not None
    with db_sessions() as session:
        kept = session.scalars(select(Leaf).where(Leaf.batch_id == batch_id)).all()
        assert len(kept) == refused.leaf_count
        assert session.scalar(select(Leaf).where(Leaf.batch_id.is_(None))) is None
    assert not env.anchor.root_info(root).anchored
    return refused


def test_a_forged_brand_signature_fails_and_is_never_anchored_as_a_platform_batch(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    register_brand(env)
    batch_id, root = commissioning_batch(env, db_sessions, 4, signer=env.stranger)
    refused = refused_batch_stays_failed(env, db_url, db_sessions, batch_id, root)
    assert "AnchorInvalidSignature" in (refused.relay_error or "")


def test_a_revoked_brands_batch_fails_and_is_never_anchored_as_a_platform_batch(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    register_brand(env)
    batch_id, root = commissioning_batch(env, db_sessions, 3)
    env.anchor.send_revoke_brand(env.admin, env.brand.address)
    refused = refused_batch_stays_failed(env, db_url, db_sessions, batch_id, root)
    assert "AnchorBrandRevoked" in (refused.relay_error or "")


def test_a_compromised_brands_batch_fails(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    register_brand(env)
    batch_id, root = commissioning_batch(env, db_sessions, 2)
    anchor = env.anchor
    assert isinstance(anchor, TraceAnchorV2Client)
    since = int(env.w3.eth.get_block("latest")["timestamp"])
    anchor.send_mark_compromised(env.admin, env.brand.address, since)
    refused = refused_batch_stays_failed(env, db_url, db_sessions, batch_id, root)
    assert "AnchorBrandCompromised" in (refused.relay_error or "")


def test_a_root_another_brand_anchored_first_is_not_taken_as_the_brands(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    """A registered brand copies the pending relay's root and anchors it under its own signature:
    the worker does not record that as the brand's anchoring (its leaves stay with the batch)."""
    register_brand(env)
    batch_id, root = commissioning_batch(env, db_sessions, 2)
    env.anchor.send_register_brand(env.admin, env.stranger.address, "9530001")
    copied = Commissioning(brand=env.stranger.address, root=root, leaf_count=2)
    signature = sign(copied, env.anchor.domain(), env.stranger.key)
    env.anchor.send_anchor_commissioning(env.stranger, root, 2, env.stranger.address, signature)
    report = worker(env, db_url, db_sessions).run_once()
    assert report.failed == [batch_id] and report.adopted == report.anchored == []
    refused = batch_row(db_sessions, batch_id)
    assert refused.status is BatchStatus.FAILED
    assert f"signed by {env.stranger.address}, not by {env.brand.address}" in str(
        refused.relay_error
    )
    with db_sessions() as session:
        assert len(session.scalars(select(Leaf).where(Leaf.batch_id == batch_id)).all()) == 2


def test_a_worker_started_before_an_upgrade_waits_for_the_new_release(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    """A batch for TraceAnchor v2 met by a worker whose deployment predates v2 waits (a local
    condition); it is never failed as if the chain had refused it."""
    register_brand(env)
    batch_id, root = commissioning_batch(env, db_sessions, 2)
    v1_only = replace(
        env.deployment,
        releases=tuple(r for r in env.deployment.releases if r.spec != TRACE_ANCHOR_V2),
    )
    stale = anchor_worker(env, db_url, db_sessions, deployment=v1_only)
    report = stale.run_once()
    assert report.failed == report.signed == []
    assert batch_row(db_sessions, batch_id).status is BatchStatus.PENDING
    assert worker(env, db_url, db_sessions).run_once().anchored == [batch_id]  # restarted
    assert env.anchor.root_info(root).brand == env.brand.address
