"""ERC-20 deposits through ShipmentEscrowClient on anvil: the allowlist, approval + fund, a
fee-on-transfer token's measured deposit, per-token balances and withdrawals."""

from __future__ import annotations

import pytest
from web3.contract import Contract

from chain import solidity_errors as se
from chain.clients import ShipmentState
from chain.toolchain.artifacts import ContractArtifact
from chain.transactions import sender_for
from core.eip712 import Terms
from tests.chain.token_support import FEE_BPS, _deploy
from tests.chain.token_support import token_artifacts as token_artifacts  # the fixture
from tests.utils.anvil import ChainEnv, increase_time, latest_timestamp

from .escrow_support import MakeTerms, _attestation, _signed_terms


def _fund_token(env: ChainEnv, token: Contract, make_terms: MakeTerms, amount: int) -> Terms:
    """Mints, approves (the unsigned approval the client builds, signed by the buyer), funds."""
    escrow = env.escrow
    sender = sender_for(env.w3, env.deployer)
    sender.send(token.address, token.encode_abi("mint", [env.buyer.address, amount]))
    approval = escrow.build_token_approval(env.buyer.address, token.address, amount)
    signed = env.buyer.sign_transaction(approval)
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(signed.raw_transaction))
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms(token=token.address, amount=amount))
    unsigned = escrow.build_fund(terms, buyer_sig, payee_sig)
    assert unsigned["value"] == 0  # tokens travel by allowance, never with the call
    escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    return terms


def test_allowlist_and_fee_on_transfer_deposit(
    env: ChainEnv, make_terms: MakeTerms, token_artifacts: dict[str, ContractArtifact]
) -> None:
    escrow = env.escrow
    fee_token = _deploy(env, token_artifacts["FeeOnTransferToken"], ["uint256"], [FEE_BPS])
    amount = 4 * 10**18 + 3
    terms, buyer_sig, payee_sig = _signed_terms(env, make_terms(token=fee_token.address))
    with pytest.raises(se.EscrowUnsupportedToken) as refused:
        escrow.send_fund(env.buyer, terms, buyer_sig, payee_sig)
    assert refused.value.args_dict == {"token": fee_token.address}
    with pytest.raises(se.AccessControlUnauthorizedAccount):
        escrow.send_set_token_allowed(env.stranger, fee_token.address, True)
    with pytest.raises(se.EscrowInvalidToken):
        escrow.send_set_token_allowed(env.admin, env.stranger.address, True)
    escrow.send_set_token_allowed(env.admin, fee_token.address, True)
    assert escrow.is_token_allowed(fee_token.address) and escrow.is_token_allowed("0x" + "00" * 20)

    sid = _fund_token(env, fee_token, make_terms, amount).shipment_id
    received = amount - amount * FEE_BPS // 10_000
    view = escrow.shipment(sid)
    assert (view.state, view.token, view.amount) == (
        ShipmentState.FUNDED,
        fee_token.address,
        received,
    )
    assert fee_token.functions.balanceOf(escrow.address).call() == received

    increase_time(env.w3, view.refundable_at - latest_timestamp(env.w3))
    escrow.send_refund(env.stranger, sid)
    assert escrow.owed(env.buyer.address, fee_token.address) == received
    assert escrow.owed(env.buyer.address) == 0  # ETH balance untouched
    assert escrow.total_owed(fee_token.address) == received
    escrow.send_withdraw(env.buyer, fee_token.address)
    assert escrow.owed(env.buyer.address, fee_token.address) == 0
    assert fee_token.functions.balanceOf(escrow.address).call() == 0
    # The buyer got the deposit less the token's own fee on the way out.
    assert (
        fee_token.functions.balanceOf(env.buyer.address).call()
        == received - received * FEE_BPS // 10_000
    )
    with pytest.raises(se.EscrowNothingOwed) as nothing:
        escrow.send_withdraw(env.buyer, fee_token.address)
    assert nothing.value.args_dict == {"account": env.buyer.address, "token": fee_token.address}


def test_token_settlement_pays_the_split(
    env: ChainEnv, make_terms: MakeTerms, token_artifacts: dict[str, ContractArtifact]
) -> None:
    escrow = env.escrow
    token = _deploy(env, token_artifacts["TestToken"], ["string", "string"], ["Euro coin", "EURX"])
    escrow.send_set_token_allowed(env.admin, token.address, True)
    terms = _fund_token(env, token, make_terms, 1_000_000)
    sid = terms.shipment_id
    assert escrow.shipment(sid).token == token.address
    # Delisting stops new deposits only: this one settles and pays out in the token.
    escrow.send_set_token_allowed(env.admin, token.address, False)
    att, oracle_sig = _attestation(env, terms, 100)  # 100 x 25 bps = 25 %
    escrow.send_attest(env.oracle, att, oracle_sig)
    increase_time(env.w3, terms.dispute_window)
    escrow.send_settle(env.stranger, sid)
    assert escrow.owed(env.payee.address, token.address) == 750_000
    assert escrow.owed(env.buyer.address, token.address) == 250_000
    escrow.send_withdraw(env.payee, token.address)
    assert token.functions.balanceOf(env.payee.address).call() == 750_000
    assert token.functions.balanceOf(escrow.address).call() == 250_000
