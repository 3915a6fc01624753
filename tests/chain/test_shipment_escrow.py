"""ShipmentEscrowClient against the deployed contract: settle and refund paths, named reverts."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain import solidity_errors as se
from chain.clients import ShipmentState, TxResult
from chain.transactions import sender_for
from core import eip712
from tests.chain.escrow_support import MakeTerms, _attestation, _signed_terms
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp


def _balance(env: ChainEnv, who: str) -> int:
    return int(env.w3.eth.get_balance(Web3.to_checksum_address(who)))


def _split(amount: int, minutes: int, bps_per_minute: int, cap_bps: int) -> tuple[int, int]:
    """docs/formats.md "Settlement arithmetic", written out independently of the contract."""
    penalty = amount * min(minutes * bps_per_minute, cap_bps) // 10_000
    return amount - penalty, penalty


@pytest.mark.parametrize("minutes", [0, 40, 1_000])  # none, proportional, capped
def test_fund_attest_settle_withdraw(env: ChainEnv, make_terms: MakeTerms, minutes: int) -> None:
    escrow = env.escrow
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms(amount=3 * 10**18 + 7))
    sid = terms.shipment_id
    buyer_before = _balance(env, env.buyer.address)
    funded = escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    assert _balance(env, env.buyer.address) == buyer_before - terms.amount - funded.fee
    assert _balance(env, escrow.address) == terms.amount
    view = escrow.shipment(sid)
    assert (view.state, view.amount, view.terms_hash) == (
        ShipmentState.FUNDED,
        terms.amount,
        eip712.terms_hash(terms),
    )
    assert (view.buyer, view.payee, view.deadline) == (terms.buyer, terms.payee, terms.deadline)

    att, oracle_sig = _attestation(env, terms, minutes)
    attested = escrow.send_attest(env.stranger, att, oracle_sig)  # anyone may submit
    payout, refund = _split(terms.amount, minutes, 25, 5000)
    view = escrow.shipment(sid)
    attested_at = int(env.w3.eth.get_block(attested.block_number)["timestamp"])
    assert (view.state, view.payout, view.refund) == (ShipmentState.ATTESTED, payout, refund)
    assert view.payout + view.refund == terms.amount
    assert view.attested_at == attested_at
    assert view.dispute_ends_at == attested_at + terms.dispute_window

    with pytest.raises(se.EscrowDisputeWindowOpen) as info:
        escrow.send_settle(env.stranger, sid)
    assert info.value.args_dict == {"endsAt": attested_at + terms.dispute_window}
    increase_time(env.w3, terms.dispute_window)
    escrow.send_settle(env.stranger, sid)
    assert escrow.shipment(sid).state == ShipmentState.SETTLED
    assert (escrow.owed(env.payee.address), escrow.owed(env.buyer.address)) == (payout, refund)

    with pytest.raises(se.EscrowInvalidState) as state:
        escrow.send_settle(env.stranger, sid)
    assert state.value.args_dict == {"shipmentId": sid, "state": int(ShipmentState.SETTLED)}

    for account, owed in ((env.payee, payout), (env.buyer, refund)):
        if owed == 0:
            with pytest.raises(se.EscrowNothingOwed):
                escrow.send_withdraw(account)
            continue
        before = _balance(env, account.address)
        result = escrow.send_withdraw(account)
        assert _balance(env, account.address) == before + owed - result.fee
        assert escrow.owed(account.address) == 0
    assert _balance(env, escrow.address) == 0


def test_refund_path(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms())
    sid = terms.shipment_id
    escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    refundable_at = escrow.shipment(sid).refundable_at
    assert refundable_at == terms.deadline + terms.refund_grace + 1
    with pytest.raises(se.EscrowDeadlineNotPassed) as info:
        escrow.send_refund(env.stranger, sid)
    assert info.value.args_dict == {"refundableAt": refundable_at}
    increase_time(env.w3, refundable_at - latest_timestamp(env.w3))
    att, oracle_sig = _attestation(env, terms, 0, delivered_at=terms.deadline)
    with pytest.raises(se.EscrowAttestationExpired):
        escrow.send_attest(env.oracle, att, oracle_sig)
    escrow.send_refund(env.stranger, sid)
    view = escrow.shipment(sid)
    assert (view.state, view.payout, view.refund) == (ShipmentState.REFUNDED, 0, terms.amount)
    assert escrow.owed(env.buyer.address) == terms.amount
    assert escrow.owed(env.payee.address) == 0
    with pytest.raises(se.EscrowInvalidState):
        escrow.send_refund(env.stranger, sid)
    before = _balance(env, env.buyer.address)
    result = escrow.send_withdraw(env.buyer)
    assert _balance(env, env.buyer.address) == before + terms.amount - result.fee


def _send_unsigned(env: ChainEnv, tx: Any, account: LocalAccount) -> None:
    signed = Account.sign_transaction(dict(tx), account.key)
    tx_hash = env.w3.eth.send_raw_transaction(signed.raw_transaction)
    assert env.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1


def test_wallet_path_with_unsigned_transactions(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms())
    fund_tx = escrow.build_fund(terms, buyer_sig, payee_sig)
    assert (fund_tx["from"], fund_tx["value"]) == (env.buyer.address, terms.amount)
    _send_unsigned(env, fund_tx, env.buyer)
    att, oracle_sig = _attestation(env, terms, 3)
    _send_unsigned(env, escrow.build_attest(env.payee.address, att, oracle_sig), env.payee)
    increase_time(env.w3, terms.dispute_window)
    _send_unsigned(env, escrow.build_settle(env.payee.address, terms.shipment_id), env.payee)
    _send_unsigned(env, escrow.build_withdraw(env.payee.address), env.payee)
    assert escrow.shipment(terms.shipment_id).state == ShipmentState.SETTLED
    assert escrow.owed(env.payee.address) == 0
    with pytest.raises(se.EscrowNothingOwed):
        escrow.build_withdraw(env.payee.address)
    other, b_sig, p_sig = _signed_terms(env, make_terms())
    escrow.send_fund(env.buyer, other, b_sig, p_sig)
    with pytest.raises(se.EscrowDeadlineNotPassed):
        escrow.build_refund(env.buyer.address, other.shipment_id)


@pytest.mark.parametrize(
    ("overrides", "error", "args"),
    [
        ({"amount": 0}, se.EscrowZeroAmount, {}),
        ({"token": "0x" + "11" * 20}, se.EscrowUnsupportedToken, None),
        ({"penaltyCapBps": 10_001}, se.EscrowInvalidPenaltyCap, {"penaltyCapBps": 10_001}),
        ({"minTempCentiC": 900}, se.EscrowInvalidTemperatureBand, None),
        ({"deadline": 1}, se.EscrowInvalidDeadline, {"deadline": 1}),
        ({"refundGrace": 2**64 - 1}, se.EscrowInvalidDurations, None),
    ],
)
def test_fund_rejects_bad_terms(
    env: ChainEnv, make_terms: MakeTerms, overrides: dict[str, Any], error: type, args: Any
) -> None:
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms(**overrides))
    with pytest.raises(error) as info:
        env.escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    if args is not None:
        assert info.value.args_dict == args


def test_fund_reverts(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms())
    with pytest.raises(se.EscrowNotBuyer) as not_buyer:
        escrow.send_fund(env.stranger, terms, buyer_sig, payee_sig)
    assert not_buyer.value.args_dict == {"caller": env.stranger.address, "buyer": env.buyer.address}
    forged = eip712.sign(terms, escrow.domain(), env.stranger.key)
    with pytest.raises(se.EscrowInvalidSignature) as bad_sig:
        escrow.send_fund(env.buyer, terms, buyer_sig, forged)
    assert bad_sig.value.args_dict == {"expectedSigner": env.payee.address}
    data = escrow.contract.encode_abi("fund", [terms.values(), buyer_sig, payee_sig])
    with pytest.raises(se.EscrowWrongAmount) as wrong:
        sender_for(env.w3, env.buyer).send(escrow.address, data, value=terms.amount - 1)
    assert wrong.value.args_dict == {"expected": terms.amount, "received": terms.amount - 1}
    escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    with pytest.raises(se.EscrowShipmentExists):
        escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    same_party = _signed_terms(env, make_terms(payee=env.buyer.address))
    with pytest.raises(se.EscrowInvalidPayee):
        escrow.send_fund(env.buyer, *same_party)


def test_attest_reverts(env: ChainEnv, make_terms: MakeTerms) -> None:
    escrow = env.escrow
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms())
    att, sig = _attestation(env, terms, 0)
    with pytest.raises(se.EscrowInvalidState) as unknown:
        escrow.send_attest(env.oracle, att, sig)
    assert unknown.value.args_dict["state"] == int(ShipmentState.NONE)
    escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    not_oracle = _attestation(env, terms, 0, signer=env.stranger)
    with pytest.raises(se.EscrowNotOracle) as info:
        escrow.send_attest(env.oracle, *not_oracle)
    assert info.value.args_dict == {"signer": env.stranger.address}
    with pytest.raises(se.EscrowTermsMismatch):
        escrow.send_attest(env.oracle, *_attestation(env, terms, 0, terms_hash=os.urandom(32)))
    late = _attestation(env, terms, 0, delivered_at=terms.deadline + 1)
    with pytest.raises(se.EscrowLateDelivery):
        escrow.send_attest(env.oracle, *late)
    future = _attestation(env, terms, 0, delivered_at=latest_timestamp(env.w3) + 3_600)
    with pytest.raises(se.EscrowDeliveryInFuture):
        escrow.send_attest(env.oracle, *future)
    # A revoked oracle's signatures stop counting.
    escrow.send_revoke_role(env.admin, escrow.oracle_role(), env.oracle.address)
    assert not escrow.has_role(escrow.oracle_role(), env.oracle.address)
    with pytest.raises(se.EscrowNotOracle):
        escrow.send_attest(env.stranger, att, sig)
    escrow.send_grant_role(env.admin, escrow.oracle_role(), env.oracle.address)
    result = escrow.send_attest(env.stranger, att, sig)
    assert isinstance(result, TxResult)
    assert escrow.shipment(terms.shipment_id).state == ShipmentState.ATTESTED
