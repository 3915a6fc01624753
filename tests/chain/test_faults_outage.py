"""Anchoring through an RPC outage: a private anvil stopped, then restarted with its state."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy.orm import Session, sessionmaker

from chain.toolchain.anvil import AnvilNode
from tests.chain.faults_support import (
    FinalityWatch,
    all_final,
    assert_final_exactly_once,
    mine,
    record_events,
)
from tests.utils.anvil import connect, deploy_env
from tests.utils.workers import anchor_worker


def test_events_are_accepted_while_the_node_is_down_and_anchoring_resumes_without_gaps(
    tmp_path: Path, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    state = tmp_path / "anvil-state.json"
    node = AnvilNode.start(state_path=state, log_path=tmp_path / "anvil.log")
    try:
        env = deploy_env(node)
        worker = anchor_worker(env, db_url, db_sessions, confirmations=2, max_batch_size=4)
        start_nonce = int(env.w3.eth.get_transaction_count(env.anchorer.address))
        record_events(db_sessions, 4)
        worker.run_once()
        mine(env, 2)
        worker.run_once()
        assert all_final(db_sessions)

        port = urlparse(node.rpc_url).port
        node.stop()  # anvil writes its state on SIGTERM
        record_events(db_sessions, 6)  # the store keeps accepting events
        for _ in range(3):
            try:
                worker.run_once()
            except Exception as exc:  # run() logs and retries a failed pass the same way
                assert "unreachable" in str(exc).lower() or "connect" in str(exc).lower()
        assert not all_final(db_sessions)

        node = AnvilNode.start(port=port, state_path=state, log_path=tmp_path / "anvil2.log")
        env = replace(env, node=node, w3=connect(node))
        with FinalityWatch(env, db_sessions, 2) as watch:
            for _ in range(20):
                worker.run_once()
                if all_final(db_sessions):
                    break
                mine(env)
        assert watch.violations == []
        assert_final_exactly_once(env, db_sessions, 10)
        # 10 events in batches of 4: three txs with consecutive nonces, none lost to the outage.
        assert int(env.w3.eth.get_transaction_count(env.anchorer.address)) == start_nonce + 3
    finally:
        node.stop()
