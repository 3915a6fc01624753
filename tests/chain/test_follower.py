"""The chain follower on a real anvil: roots and escrow state in the store, undone by reorgs."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chain.follower import ChainFollower
from chain.settings import FollowSettings
from core import eip712
from store import chain_view
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp

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
