"""The chain follower on a real anvil: roots, escrow state and funded shipments in the store,
undone by reorgs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import Web3RPCError
from web3.middleware import Web3Middleware

import store
from chain.errors import ChainError
from chain.follower import ChainFollower, FollowReport
from chain.settings import FollowSettings
from chain.transactions import resync_nonces
from core import eip712
from store import chain_view
from store.models import ShipmentStatus
from store.shipments import set_shipment_status, shipment_by_hex
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp, revert, snapshot
from tests.utils.store_factories import make_shipment

MakeTerms = Callable[..., dict[str, Any]]


def follower(env: ChainEnv, db_url: str, sessions: sessionmaker[Session]) -> ChainFollower:
    settings = FollowSettings(chaintrace_dev=True, database_url=db_url, follow_reorg_depth=8)
    return ChainFollower(settings, sessions, env.w3, env.deployment)


def signed_terms(env: ChainEnv, values: dict[str, Any]) -> tuple[eip712.Terms, bytes, bytes]:
    terms = eip712.Terms.from_json(
        {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
    )
    domain = env.escrow.domain()
    return (
        terms,
        eip712.sign(terms, domain, env.buyer.key),
        eip712.sign(terms, domain, env.payee.key),
    )


def test_escrow_state_follows_funding_refund_and_withdrawal(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], make_terms: MakeTerms
) -> None:
    follow = follower(env, db_url, db_sessions)
    terms, buyer_sig, payee_sig = signed_terms(env, make_terms())
    sid = "0x" + terms.shipment_id.hex()
    env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    assert follow.run_once().logs >= 1
    with db_sessions() as session:
        view = chain_view.escrow_view(session, sid)
        assert view is not None and view.state == "funded" and view.amount == terms.amount
        assert view.buyer == env.buyer.address and view.payee == env.payee.address

    refundable_at = env.escrow.shipment(sid).refundable_at
    increase_time(env.w3, refundable_at - latest_timestamp(env.w3))
    env.escrow.send_refund(env.stranger, terms.shipment_id)
    env.escrow.send_withdraw(env.buyer)
    follow.run_once()
    with db_sessions() as session:
        view = chain_view.escrow_view(session, sid)
        assert view is not None and view.state == "refunded"
        assert (view.payout, view.refund) == (0, terms.amount)
        assert chain_view.withdrawn_total(session, env.buyer.address) >= terms.amount
    assert follow.run_once().logs == 0  # nothing new, nothing twice


def test_a_reorg_rolls_the_view_back_to_what_the_chain_says(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], make_terms: MakeTerms
) -> None:
    follow = follower(env, db_url, db_sessions)
    kept, dropped = os.urandom(32), os.urandom(32)
    env.anchor.send_anchor(env.anchorer, kept, 3)
    terms, buyer_sig, payee_sig = signed_terms(env, make_terms())
    sid = "0x" + terms.shipment_id.hex()
    env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    follow.run_once()
    env.anchor.send_anchor(env.anchorer, dropped, 5)
    follow.run_once()
    with db_sessions() as session:
        for root in (kept, dropped):
            assert chain_view.chain_root(session, root) is not None
        assert chain_view.escrow_view(session, sid) is not None

    # The last block (anchoring `dropped`) is replaced by an empty one.
    reply = env.w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]
    assert "error" not in reply
    report = follow.run_once()
    assert report.reorged_from is not None
    with db_sessions() as session:
        assert chain_view.chain_root(session, dropped) is None
        root = chain_view.chain_root(session, kept)
        assert root is not None and root.leaf_count == 3 and root.brand is None
        block = env.w3.eth.get_block(root.block_number)
        assert root.block_hash == "0x" + bytes(block["hash"]).hex()
        view = chain_view.escrow_view(session, sid)
        assert view is not None and view.state == "funded"

    # A deeper reorg that removes the funding too: the shipment disappears from the view.
    funded_at = env.escrow.contract.events.ShipmentFunded().get_logs(
        argument_filters={"shipmentId": terms.shipment_id}, from_block=0, to_block="latest"
    )[0]["blockNumber"]
    depth = int(env.w3.eth.block_number) - int(funded_at) + 1
    reply = env.w3.provider.make_request("anvil_reorg", [depth, []])  # type: ignore[arg-type]
    assert "error" not in reply
    follow.run_once()
    with db_sessions() as session:
        assert chain_view.escrow_view(session, sid) is None
        assert env.escrow.shipment(sid).state.name == "NONE"


def stored_shipment(
    sessions: sessionmaker[Session], terms: eip712.Terms, *, terms_hash: str | None = None
) -> str:
    """The platform's record of the shipment (created), under these terms or another hash."""
    with store.transaction(sessions) as session:
        shipment = make_shipment(session)
        shipment.shipment_id = "0x" + terms.shipment_id.hex()
        shipment.terms_hash = terms_hash or "0x" + eip712.terms_hash(terms).hex()
        return shipment.shipment_id


def status_of(sessions: sessionmaker[Session], shipment_id: str) -> ShipmentStatus:
    with sessions() as session:
        shipment = shipment_by_hex(session, shipment_id)
        assert shipment is not None
        return shipment.status


def test_the_follower_moves_a_funded_shipment_and_a_reorg_moves_it_back(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], make_terms: MakeTerms
) -> None:
    follow = follower(env, db_url, db_sessions)
    terms, buyer_sig, payee_sig = signed_terms(env, make_terms())
    other, other_buyer_sig, other_payee_sig = signed_terms(env, make_terms())
    sid = stored_shipment(db_sessions, terms)
    # Funded on chain under terms whose hash is not the one the platform's parties signed.
    foreign = stored_shipment(db_sessions, other, terms_hash="0x" + "ab" * 32)
    assert follow.run_once().funded == []
    env.escrow.send_fund(env.buyer, other, other_buyer_sig, other_payee_sig)
    funding = env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    assert status_of(db_sessions, sid) is ShipmentStatus.CREATED  # the chain alone moves nothing

    report = follow.run_once()
    assert report.funded == [sid]
    assert status_of(db_sessions, sid) is ShipmentStatus.FUNDED
    assert status_of(db_sessions, foreign) is ShipmentStatus.CREATED
    assert follow.run_once().funded == []  # once

    # A reorg below the funding: the shipment is created again (its terms can fund it anew).
    funded_at = int(env.w3.eth.get_transaction_receipt(funding.tx_hash)["blockNumber"])
    depth = int(env.w3.eth.block_number) - funded_at + 1
    reply = env.w3.provider.make_request("anvil_reorg", [depth, []])  # type: ignore[arg-type]
    assert "error" not in reply
    report = follow.run_once()
    assert report.reorged_from is not None and report.reorged_from <= funded_at
    assert report.unfunded == [sid]
    assert status_of(db_sessions, sid) is ShipmentStatus.CREATED
    with db_sessions() as session:
        assert chain_view.escrow_view(session, sid) is None

    # A shipment past funded (its carrier shipped) keeps its status through such a reorg.
    resync_nonces(env.w3)  # the reorg dropped the buyer's transactions
    env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    assert follow.run_once().funded == [sid]
    with store.transaction(db_sessions) as session:
        shipment = shipment_by_hex(session, sid)
        assert shipment is not None
        set_shipment_status(session, shipment, ShipmentStatus.SHIPPING)
    reply = env.w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]
    assert "error" not in reply
    report = follow.run_once()
    assert report.reorged_from is not None and report.unfunded == []
    assert status_of(db_sessions, sid) is ShipmentStatus.SHIPPING
    with db_sessions() as session:
        assert chain_view.escrow_view(session, sid) is None


def test_blocks_with_logs_keep_their_time_after_pruning(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], make_terms: MakeTerms
) -> None:
    follow = follower(env, db_url, db_sessions)  # prunes headers 4 x 8 blocks below the tip
    terms, buyer_sig, payee_sig = signed_terms(env, make_terms())
    sid = "0x" + terms.shipment_id.hex()
    funding = env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    follow.run_once()
    funded_at = int(env.w3.eth.get_transaction_receipt(funding.tx_hash)["blockNumber"])
    for blocks in (3, 5 * 8):
        reply = env.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]
        assert "error" not in reply
        follow.run_once()  # the first pass ends on an empty block: a tip without logs
    block = env.w3.eth.get_block(funded_at)
    with db_sessions() as session:
        assert chain_view.followed_block(session, funded_at + 3) is None  # pruned
        kept = chain_view.followed_block(session, funded_at)
        assert kept is not None and kept.hash == "0x" + bytes(block["hash"]).hex()
        assert kept.parent_hash == "0x" + bytes(block["parentHash"]).hex()
        [log] = chain_view.chain_logs(session, sid, ["ShipmentFunded"])
        assert log.block_number == funded_at
        assert chain_view.log_time(session, log) == int(block["timestamp"])


@contextmanager
def traffic(w3: Any, engine: Engine) -> Iterator[tuple[list[Any], list[str]]]:
    """(RPC requests: a method, or a list of them for a batch; SQL statements) in the block."""
    requests: list[Any] = []
    statements: list[str] = []

    class Counting(Web3Middleware):
        def wrap_make_request(self, make_request: Any) -> Any:
            def counted(method: str, params: Any) -> Any:
                requests.append(method)
                return make_request(method, params)

            return counted

        def wrap_make_batch_request(self, make_batch_request: Any) -> Any:
            def counted(calls: list[tuple[str, Any]]) -> Any:
                requests.append([method for method, _ in calls])
                return make_batch_request(calls)

            return counted

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        statements.append(" ".join(sql.split()))

    w3.middleware_onion.add(Counting, name="counting")
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield requests, statements
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        w3.middleware_onion.remove("counting")


def test_an_idle_pass_reads_the_chain_once_and_takes_no_write_lock(
    env: ChainEnv,
    db_url: str,
    db_engine: Engine,
    db_sessions: sessionmaker[Session],
    make_terms: MakeTerms,
) -> None:
    follow = follower(env, db_url, db_sessions)
    terms, buyer_sig, payee_sig = signed_terms(env, make_terms())
    other, other_buyer_sig, other_payee_sig = signed_terms(env, make_terms())
    env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    env.escrow.send_fund(env.buyer, other, other_buyer_sig, other_payee_sig)
    follow.run_once()
    checkpoints = [n for n, _ in chain_view_blocks(db_sessions, follow)]
    assert len(checkpoints) >= 3  # the two fundings' blocks and the tip at least

    # Stored after its deposit was followed: an idle pass (no new block) still funds it.
    sid = stored_shipment(db_sessions, terms)
    assert follow.run_once().funded == [sid]
    with traffic(env.w3, db_engine) as (requests, statements):
        assert follow.run_once() == FollowReport()
    # One batch for every recent checkpoint's hash, and the head: not one request per block.
    assert requests == [["eth_getBlockByNumber"] * len(checkpoints), "eth_blockNumber"]
    writes = [s for s in statements if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == [] and not [s for s in statements if "FOR UPDATE" in s.upper()]
    if db_engine.dialect.name == "sqlite":
        assert "BEGIN IMMEDIATE" not in statements and "BEGIN DEFERRED" in statements
    else:
        assert "SET TRANSACTION READ ONLY" in statements


def chain_view_blocks(sessions: sessionmaker[Session], follow: ChainFollower) -> list[Any]:
    """The followed checkpoints the follower re-checks each pass."""
    with sessions() as session:
        tip = chain_view.followed_height(session)
        assert tip is not None
        return chain_view.recent_blocks(session, tip - follow.settings.follow_reorg_depth)


def test_a_chain_shorter_than_the_followed_tip_rolls_the_view_back(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    # The checkpoints above the new head are not blocks at all: the batched read of their
    # hashes fails as a whole, and they are read one by one ("" above the head).
    follow = follower(env, db_url, db_sessions)
    kept, dropped = os.urandom(32), os.urandom(32)
    env.anchor.send_anchor(env.anchorer, kept, 3)
    follow.run_once()
    snap = snapshot(env.w3)
    env.anchor.send_anchor(env.anchorer, dropped, 5)
    reply = env.w3.provider.make_request("anvil_mine", ["0x3"])  # type: ignore[arg-type]
    assert "error" not in reply
    follow.run_once()
    dropped_at = int(env.w3.eth.block_number) - 3
    revert(env.w3, snap)  # back to the head before `dropped`: the chain is 4 blocks shorter
    report = follow.run_once()
    assert report.reorged_from == dropped_at
    with db_sessions() as session:
        assert chain_view.chain_root(session, dropped) is None
        assert chain_view.chain_root(session, kept) is not None
        assert chain_view.followed_height(session) == int(env.w3.eth.block_number)


def test_a_reorg_between_the_logs_and_their_blocks_fails_the_pass_and_records_nothing(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    follow = follower(env, db_url, db_sessions)
    follow.run_once()
    root = os.urandom(32)
    env.anchor.send_anchor(env.anchorer, root, 2)
    get_logs = follow.w3.eth.get_logs

    def then_reorg(*args: Any, **kwargs: Any) -> Any:
        logs = get_logs(*args, **kwargs)
        # The block of those logs is replaced by an empty one before its header is read.
        reply = env.w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]
        assert "error" not in reply
        return logs

    setattr(follow.w3.eth, "get_logs", then_reorg)  # noqa: B010 (this follower's w3 only)
    with db_sessions() as session:
        tip = chain_view.followed_height(session)
    with pytest.raises(ChainError, match="read again next pass"):
        follow.run_once()
    with db_sessions() as session:  # nothing of the range: no root, no new tip
        assert chain_view.chain_root(session, root) is None
        assert chain_view.followed_height(session) == tip
    setattr(follow.w3.eth, "get_logs", get_logs)  # noqa: B010
    follow.run_once()
    with db_sessions() as session:  # read again: the reorg took the anchoring away
        assert chain_view.chain_root(session, root) is None
        assert chain_view.followed_height(session) == int(env.w3.eth.block_number)


def test_block_reads_go_in_batches_of_follow_rpc_batch_and_singly_when_refused(
    env: ChainEnv, db_url: str, db_engine: Engine, db_sessions: sessionmaker[Session]
) -> None:
    settings = FollowSettings(
        chaintrace_dev=True, database_url=db_url, follow_reorg_depth=8, follow_rpc_batch=2
    )
    follow = ChainFollower(settings, db_sessions, env.w3, env.deployment)
    for count in range(1, 6):  # five blocks with logs: five checkpoints and the tip
        env.anchor.send_anchor(env.anchorer, os.urandom(32), count)
    follow.run_once()
    checkpoints = len(chain_view_blocks(db_sessions, follow))
    assert checkpoints >= 5
    with traffic(env.w3, db_engine) as (requests, _):
        follow.run_once()
    by_two = [["eth_getBlockByNumber"] * min(2, checkpoints - i) for i in range(0, checkpoints, 2)]
    assert requests == [*by_two, "eth_blockNumber"]

    class Refusing(Web3Middleware):  # a node that takes no batches (or none this size)
        def wrap_make_batch_request(self, make_batch_request: Any) -> Any:
            def refuse(calls: list[tuple[str, Any]]) -> Any:
                raise Web3RPCError("batch too large")

            return refuse

    env.w3.middleware_onion.add(Refusing, name="refusing")
    try:
        with traffic(env.w3, db_engine) as (requests, _):
            assert follow.run_once() == FollowReport()
        env.anchor.send_anchor(env.anchorer, root := os.urandom(32), 7)
        assert follow.run_once().logs == 1  # new logs and their block's header, singly too
    finally:
        env.w3.middleware_onion.remove("refusing")
    # Each refused batch (seen here before it is refused) is read again request by request.
    singly = [r for r in requests if isinstance(r, str)]
    assert singly == ["eth_getBlockByNumber"] * checkpoints + ["eth_blockNumber"]
    with db_sessions() as session:
        assert chain_view.chain_root(session, root) is not None
