"""ShipmentEscrowClient's dispute functions against anvil: open, evidence with real proofs from
core.evidence, the arbiter's split, the timeout fallback, and every new named revert."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain import solidity_errors as se
from chain.clients import ShipmentState
from core import eip712
from core.evidence import evidence_leaf, evidence_root, evidence_tree
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp

from .escrow_support import MakeTerms, _signed_terms

DEVICE: LocalAccount = Account.from_key(b"\x42" * 32)


def _readings(count: int) -> list[eip712.Reading]:
    return [
        eip712.Reading(
            device=DEVICE.address,
            seq=i,
            taken_at_ms=1_800_000_000_000 + 60_000 * i,
            temperature_centi_c=500 + 300 * i,
            humidity_centi_pct=4000,
            shock_milli_g=0,
            lat_e7=0,
            lon_e7=0,
        )
        for i in range(count)
    ]


def _attested(env: ChainEnv, make_terms: MakeTerms, **overrides: Any) -> tuple[Any, list[Any]]:
    """Funded and attested with the evidence root over three device-signed readings."""
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms(**overrides))
    env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    readings = _readings(3)
    domain = env.anchor_v1.domain()
    digests = [eip712.reading_digest(r, domain) for r in readings]
    att = eip712.DeliveryAttestation(
        shipment_id=terms.shipment_id,
        terms_hash=eip712.terms_hash(terms),
        evidence_root=evidence_root(digests),
        excursion_minutes=40,  # 40 x 25 bps = 10 %
        delivered_at=latest_timestamp(env.w3),
    )
    env.escrow.send_attest(env.oracle, att, eip712.sign(att, env.escrow.domain(), env.oracle.key))
    return terms, [
        (r, d, eip712.sign(r, domain, DEVICE.key)) for r, d in zip(readings, digests, strict=True)
    ]


def test_dispute_evidence_resolve(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, evidence = _attested(env, make_terms)
    sid = terms.shipment_id
    with pytest.raises(se.EscrowNotParty) as info:
        escrow.send_open_dispute(env.stranger, sid)
    assert info.value.args_dict == {"caller": env.stranger.address}
    opened = escrow.send_open_dispute(env.payee, sid)
    view = escrow.shipment(sid)
    opened_at = int(env.w3.eth.get_block(opened.block_number)["timestamp"])
    assert (view.state, view.disputed_at) == (ShipmentState.DISPUTED, opened_at)
    assert view.dispute_times_out_at == opened_at + terms.dispute_timeout
    assert view.settleable_at == view.dispute_times_out_at
    assert view.arbiter == env.stranger.address and view.token == terms.token

    tree = evidence_tree([d for _, d, _ in evidence])
    reading, digest, signature = evidence[2]
    assert escrow.evidence_leaf(digest) == evidence_leaf(digest)
    proof = tree.proof(evidence_leaf(digest))
    result = escrow.send_submit_evidence(env.buyer, sid, reading, signature, proof)
    [event] = escrow.contract.events.EvidenceSubmitted().process_receipt(
        env.w3.eth.get_transaction_receipt(result.tx_hash)
    )
    assert bytes(event["args"]["readingDigest"]) == digest
    assert event["args"]["temperatureCentiC"] == 1100 and event["args"]["device"] == DEVICE.address

    # A signature by another key, or a proof for another reading, is refused by name.
    with pytest.raises(se.EscrowInvalidReadingSignature) as bad_sig:
        forged = eip712.sign(reading, env.anchor_v1.domain(), env.buyer.key)
        escrow.send_submit_evidence(env.buyer, sid, reading, forged, proof)
    assert bad_sig.value.args_dict == {"device": DEVICE.address, "signer": env.buyer.address}
    other, other_digest, other_sig = evidence[0]
    with pytest.raises(se.EscrowEvidenceNotAttested) as not_in:
        escrow.send_submit_evidence(env.buyer, sid, other, other_sig, proof)
    assert not_in.value.args_dict["readingDigest"] == other_digest

    with pytest.raises(se.EscrowNotArbiter):
        escrow.send_resolve_dispute(env.buyer, sid, 0)
    with pytest.raises(se.EscrowInvalidSplit) as split:
        escrow.send_resolve_dispute(env.stranger, sid, terms.amount + 1)
    assert split.value.args_dict == {"payout": terms.amount + 1, "amount": terms.amount}
    unsigned = escrow.build_resolve_dispute(env.stranger.address, sid, terms.amount // 3)
    escrow.simulate(unsigned)  # what the API checks before handing the transaction out
    escrow.send_resolve_dispute(env.stranger, sid, terms.amount // 3)
    view = escrow.shipment(sid)
    assert view.state is ShipmentState.SETTLED
    assert (view.payout, view.refund) == (terms.amount // 3, terms.amount - terms.amount // 3)
    assert escrow.owed(env.payee.address) == terms.amount // 3
    assert escrow.total_owed() == terms.amount
    with pytest.raises(se.EscrowInvalidState):
        escrow.simulate(escrow.build_settle(env.stranger.address, sid))


def test_unresolved_dispute_falls_back_to_attestation(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, _ = _attested(env, make_terms)
    sid = terms.shipment_id
    escrow.send_open_dispute(env.buyer, sid)
    times_out_at = escrow.shipment(sid).dispute_times_out_at
    assert times_out_at is not None
    with pytest.raises(se.EscrowDisputePending) as pending:
        escrow.send_settle(env.oracle, sid)
    assert pending.value.args_dict == {"timesOutAt": times_out_at}
    increase_time(env.w3, times_out_at - latest_timestamp(env.w3))
    with pytest.raises(se.EscrowDisputeTimedOut):
        escrow.send_resolve_dispute(env.stranger, sid, 0)
    escrow.send_settle(env.oracle, sid)
    penalty = terms.amount * 1000 // 10_000
    assert escrow.owed(env.payee.address) == terms.amount - penalty
    assert escrow.owed(env.buyer.address) == penalty


def test_dispute_window_and_arbiter_checks(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, _ = _attested(env, make_terms, arbiter="0x" + "00" * 20)
    with pytest.raises(se.EscrowNoArbiter):
        escrow.send_open_dispute(env.buyer, terms.shipment_id)
    late, _ = _attested(env, make_terms)
    increase_time(env.w3, late.dispute_window)
    with pytest.raises(se.EscrowDisputeWindowClosed):
        escrow.send_open_dispute(env.buyer, late.shipment_id)
    bad = make_terms(arbiter=env.buyer.address, shipmentId=os.urandom(32))
    terms_b, buyer_sig, payee_sig = _signed_terms(env, bad)
    with pytest.raises(se.EscrowInvalidArbiter) as info:
        escrow.send_fund(env.buyer, terms_b, buyer_sig, payee_sig)
    assert info.value.args_dict == {"arbiter": env.buyer.address}
