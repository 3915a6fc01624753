"""The chain follower and contract releases added after it started: a release it has not read
is read from its deployment block once the follower knows it, whatever the view's tip."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from chain.follower import ChainFollower
from chain.releases import TRACE_ANCHOR_V2
from chain.settings import FollowSettings
from store.brand_standing import Registry, brand_standing
from tests.utils.anvil import ChainEnv, latest_timestamp


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
        assert brand_standing(session, env.brand.address, trusted) is None  # never read
    # Restarted with the upgraded deployment: v2's earlier logs are read, a range per pass.
    after = ChainFollower(settings, db_sessions, env.w3, env.deployment)
    for _ in range(50):
        after.run_once()
    with db_sessions() as session:
        standing = brand_standing(session, env.brand.address, trusted)
    assert standing is not None and standing.compromised_since == since
    assert not standing.can_sign
