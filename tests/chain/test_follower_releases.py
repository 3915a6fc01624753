"""The chain follower and contract releases added after it started: a release it has not read
is read from its deployment block once the follower knows it, whatever the view's tip."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from chain.errors import ChainError
from chain.follower import ChainFollower
from chain.releases import TRACE_ANCHOR_V2
from chain.settings import FollowSettings
from store.brand_standing import BrandLedger, Registry
from store.models.chain_view import ChainLog
from tests.utils.anvil import ChainEnv, latest_timestamp, revert, snapshot


def mine(w3: Web3, blocks: int) -> None:
    for _ in range(blocks):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_a_release_added_while_the_view_was_past_it_is_read_from_its_deployment(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    settings = FollowSettings(
        chaintrace_dev=True, database_url=db_url, follow_reorg_depth=8, follow_max_range=5
    )
    # A follower of the deployment before TraceAnchor v2 (it was deployed meanwhile) reads on.
    kept = tuple(r for r in env.deployment.releases if r.spec != TRACE_ANCHOR_V2)
    env.anchor.send_register_brand(env.admin, env.brand.address, "9520001")
    since = latest_timestamp(env.w3)
    env.anchor.send_mark_compromised(env.admin, env.brand.address, since)
    before = ChainFollower(settings, db_sessions, env.w3, replace(env.deployment, releases=kept))
    while before.run_once().to_block is not None:
        pass
    trusted = (Registry(str(env.deployment.trace_anchor_v2)),)
    with db_sessions() as session:
        assert BrandLedger.load(session, trusted).standing(env.brand.address) is None  # never read
    # Restarted with the upgraded deployment: v2's earlier logs are read, a range per pass.
    after = ChainFollower(settings, db_sessions, env.w3, env.deployment)
    for _ in range(50):
        after.run_once()
    with db_sessions() as session:
        standing = BrandLedger.load(session, trusted).standing(env.brand.address)
    assert standing is not None and standing.compromised_since == since
    assert not standing.can_sign


def test_a_backfill_never_overwrites_a_checkpoint_a_reorg_changed(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    """The chain reorgs between the pass's reorg check and the backfill: the backfill does not
    record the new fork's header over the old one (which would hide the reorg and keep the old
    fork's logs); the next pass rolls the view back, and only canonical logs remain."""
    settings = FollowSettings(
        chaintrace_dev=True, database_url=db_url, follow_reorg_depth=8, follow_max_range=1000
    )
    kept = tuple(r for r in env.deployment.releases if r.spec != TRACE_ANCHOR_V2)
    before = ChainFollower(settings, db_sessions, env.w3, replace(env.deployment, releases=kept))
    fork = snapshot(env.w3)
    env.anchor_v1.send_register_brand(env.admin, env.stranger.address, "9530001")  # old fork
    number = env.w3.eth.block_number
    mine(env.w3, 3)
    while before.run_once().to_block is not None:
        pass
    revert(env.w3, fork)
    env.anchor.send_register_brand(env.admin, env.brand.address, "9520001")  # the new fork
    assert env.w3.eth.block_number == number
    mine(env.w3, 6)
    after = ChainFollower(settings, db_sessions, env.w3, env.deployment)
    checks_reorgs = after._undo_reorg
    after._undo_reorg = lambda report: None  # type: ignore[method-assign]  # reorg after it
    with pytest.raises(ChainError, match=f"block {number} changed"):
        after.run_once()
    after._undo_reorg = checks_reorgs  # type: ignore[method-assign]
    for _ in range(5):
        after.run_once()
    canonical = "0x" + bytes(env.w3.eth.get_block(number)["hash"]).hex()
    with db_sessions() as session:
        logs = session.scalars(select(ChainLog).where(ChainLog.block_number == number)).all()
        assert logs and all(log.block_hash == canonical for log in logs)
        assert {log.event for log in logs} == {"BrandRegistered"}
        assert {str(log.args["brand"]) for log in logs} == {env.brand.address}
