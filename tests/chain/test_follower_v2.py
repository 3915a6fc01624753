"""The chain follower with ShipmentEscrow v2 beside v1: funding status, views per contract,
money at risk; a v1 deposit squatting a v2 shipment's id changes nothing of the v2 shipment."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import store
from chain.clients import ShipmentEscrowV2Client
from chain.follower import ChainFollower
from chain.settings import FollowSettings
from core import eip712
from store import chain_view
from store.at_risk import open_escrows
from store.models import EscrowView, ShipmentStatus
from store.shipments import shipment_by_hex
from tests.chain.terms_v2 import signatures, terms_v2
from tests.utils.anvil import ChainEnv, latest_timestamp
from tests.utils.store_factories import make_shipment

MakeTerms = Callable[..., dict[str, Any]]


def _escrow_v2(env: ChainEnv) -> ShipmentEscrowV2Client:
    address = env.deployment.shipment_escrow_v2
    assert address is not None
    return ShipmentEscrowV2Client(env.w3, address)


def _stored_v2(sessions: sessionmaker[Session], terms: eip712.TermsV2) -> str:
    """The API's side of a created v2 shipment: its id, terms and terms hash."""
    with store.transaction(sessions) as session:
        shipment = make_shipment(session)
        shipment.shipment_id = "0x" + terms.shipment_id.hex()
        shipment.terms_json = json.dumps(terms.to_json())
        shipment.terms_hash = "0x" + eip712.terms_hash(terms).hex()
        shipment.escrow_version = 2
        return shipment.shipment_id


def _fund_v2(env: ChainEnv, escrow: ShipmentEscrowV2Client) -> eip712.TermsV2:
    terms = terms_v2(
        now=latest_timestamp(env.w3),
        buyer=env.buyer.address,
        payee=env.payee.address,
        carrier=env.payee.address,
        arbiter=env.stranger.address,
        oracle=env.oracle.address,
        devices=[env.stranger.address],
    )
    buyer_sig, payee_sig = signatures(terms, escrow.domain(), env.buyer, env.payee)
    escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig, b"")
    return terms


def _squat_v1(env: ChainEnv, make_terms: MakeTerms, shipment_id: bytes) -> None:
    """A v1 deposit under the v2 shipment's id (other terms, other parties' choice)."""
    values = make_terms(shipmentId=shipment_id, amount=1)
    terms = eip712.Terms.from_json(
        {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
    )
    domain = env.escrow.domain()
    env.escrow.send_fund(
        env.buyer,
        terms,
        eip712.sign(terms, domain, env.buyer.key),
        eip712.sign(terms, domain, env.payee.key),
    )


def test_a_v2_deposit_funds_its_shipment_and_a_v1_squat_changes_nothing(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], make_terms: MakeTerms
) -> None:
    settings = FollowSettings(chaintrace_dev=True, database_url=db_url, follow_reorg_depth=8)
    follow = ChainFollower(settings, db_sessions, env.w3, env.deployment)
    escrow = _escrow_v2(env)
    terms = _fund_v2(env, escrow)
    sid = _stored_v2(db_sessions, terms)
    _squat_v1(env, make_terms, terms.shipment_id)  # after the v2 deposit, before following

    report = follow.run_once()
    assert report.funded == [sid]
    terms_hash = "0x" + eip712.terms_hash(terms).hex()
    with db_sessions() as session:
        shipment = shipment_by_hex(session, sid)
        assert shipment is not None and shipment.status is ShipmentStatus.FUNDED
        view = chain_view.escrow_view(session, sid, terms_hash)
        assert view is not None
        assert (view.contract, view.state, view.amount) == (escrow.address, "funded", terms.amount)
        rows = session.scalars(select(EscrowView).where(EscrowView.shipment_id == sid)).all()
        assert {r.contract: r.amount for r in rows} == {  # kept apart, one row per contract
            escrow.address: terms.amount,
            env.escrow.address: 1,
        }
        (risk,) = [e for e in open_escrows(session) if e.shipment_id == sid]
        assert risk.escrow_version == 2 and risk.amount == terms.amount
        assert risk.attest_by == terms.deadline + terms.refund_grace
        assert "not delivered yet" in risk.reason(latest_timestamp(env.w3))


def test_a_squatting_deposit_is_not_shown_as_the_shipments_own(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], make_terms: MakeTerms
) -> None:
    """A v1 deposit under a v2 shipment's id, before the v2 funding: no escrow for it."""
    settings = FollowSettings(chaintrace_dev=True, database_url=db_url, follow_reorg_depth=8)
    follow = ChainFollower(settings, db_sessions, env.w3, env.deployment)
    terms = terms_v2(
        now=latest_timestamp(env.w3),
        buyer=env.buyer.address,
        payee=env.payee.address,
        carrier=env.payee.address,
        arbiter=env.stranger.address,
        oracle=env.oracle.address,
        devices=[env.stranger.address],
    )
    sid = _stored_v2(db_sessions, terms)
    _squat_v1(env, make_terms, terms.shipment_id)
    assert follow.run_once().funded == []
    with db_sessions() as session:
        terms_hash = "0x" + eip712.terms_hash(terms).hex()
        assert chain_view.escrow_view(session, sid, terms_hash) is None
        shipment = shipment_by_hex(session, sid)
        assert shipment is not None and shipment.status is ShipmentStatus.CREATED
