"""chain.transactions: local nonces, fees, failed transactions, connection errors."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from chain import solidity_errors as se
from chain.clients import TraceAnchorClient
from chain.durable_tx import SignedTx
from chain.errors import (
    AlreadyKnown,
    ChainConnectionError,
    ChainError,
    NodeRefused,
    NonceUsed,
    Underpriced,
    node_refusal,
)
from chain.toolchain.anvil import AnvilNode
from chain.transactions import (
    TransactionSender,
    chain_errors,
    fee_fields,
    sender_for,
    unsigned_transaction,
)
from tests.utils.anvil import ChainEnv


def test_one_sender_per_account(env: ChainEnv) -> None:
    a = sender_for(env.w3, env.anchorer)
    assert sender_for(env.w3, env.anchorer) is a
    assert sender_for(env.w3, a) is a
    assert sender_for(env.w3, env.oracle) is not a


def test_nonces_are_local_and_resync_after_outside_use(env: ChainEnv) -> None:
    sender = TransactionSender(env.w3, env.anchorer)
    anchor = env.anchor
    anchor.send_anchor(sender, os.urandom(32), 1)
    anchor.send_anchor(sender, os.urandom(32), 1)
    # The same key used elsewhere consumes the nonce this sender would use next.
    outside = anchor.build_anchor(env.anchorer.address, os.urandom(32), 1)
    raw = Account.sign_transaction(dict(outside), env.anchorer.key).raw_transaction
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(raw))
    root = os.urandom(32)
    result = anchor.send_anchor(sender, root, 1)  # "nonce too low" -> resync -> sent
    assert anchor.root_info(root).block_number == result.block_number
    assert env.w3.eth.get_transaction(result.tx_hash)["nonce"] == outside["nonce"] + 1


def test_fees_are_eip1559(env: ChainEnv) -> None:
    fees = fee_fields(env.w3)
    base = int(env.w3.eth.get_block("latest")["baseFeePerGas"])
    assert fees["maxFeePerGas"] == 2 * base + fees["maxPriorityFeePerGas"]
    tx: Any = unsigned_transaction(env.w3, env.stranger.address, env.payee.address, b"", 5)
    assert tx["gas"] >= 21_000  # estimate (21,000 for a plain transfer) plus margin
    assert (tx["value"], tx["to"], tx["chainId"]) == (5, env.payee.address, env.w3.eth.chain_id)


def test_status_zero_transaction_is_decoded(env: ChainEnv) -> None:
    """Two anchors of one root in one block: both estimate fine, the second fails on chain."""
    w3 = env.w3
    sender = TransactionSender(w3, env.anchorer)
    anchor = TraceAnchorClient(w3, env.deployment.trace_anchor)
    root = os.urandom(32)
    outcomes: list[Any] = []

    def send() -> None:
        try:
            outcomes.append(anchor.send_anchor(sender, root, 1))
        except ChainError as exc:
            outcomes.append(exc)

    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(w3.eth.get_block("pending")["transactions"]) < 2:
            assert time.monotonic() < deadline, "the two transactions never reached the pool"
            time.sleep(0.05)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        for t in threads:
            t.join(timeout=60)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert sorted(type(o).__name__ for o in outcomes) == ["AnchorRootExists", "TxResult"]
    failed = next(o for o in outcomes if isinstance(o, se.AnchorRootExists))
    assert failed.args_dict == {"root": root}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_node_is_a_connection_error(chain_env: ChainEnv) -> None:
    with AnvilNode.start(port=_free_port()) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 5}))
        client = TraceAnchorClient(w3, chain_env.deployment.trace_anchor)
        assert client.chain_id() == node.chain_id
    with pytest.raises(ChainConnectionError) as info:
        client.root_info(os.urandom(32))
    assert isinstance(info.value, ConnectionError)
    with pytest.raises(ChainConnectionError):
        client.send_anchor(chain_env.anchorer, os.urandom(32), 1)


def _signed_anchor(env: ChainEnv, **overrides: int) -> bytes:
    tx = dict(env.anchor.build_anchor(env.anchorer.address, os.urandom(32), 1))
    tx.update(overrides)
    return bytes(Account.sign_transaction(tx, env.anchorer.key).raw_transaction)


def test_the_node_refusals_of_a_raw_transaction_are_typed(env: ChainEnv) -> None:
    """anvil's own messages, sorted once by chain_errors into the types the senders act on."""
    raw = _signed_anchor(env)
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(raw))
    with pytest.raises(NonceUsed), chain_errors():
        env.w3.eth.send_raw_transaction(raw)  # mined already: its nonce is used
    base = int(env.w3.eth.get_block("latest")["baseFeePerGas"] or 0)
    cheap = _signed_anchor(env, maxFeePerGas=base // 2, maxPriorityFeePerGas=0)
    with pytest.raises(Underpriced), chain_errors():
        env.w3.eth.send_raw_transaction(cheap)


def test_node_refusal_sorts_every_client_s_wording() -> None:
    assert isinstance(node_refusal("already known"), AlreadyKnown)
    assert isinstance(node_refusal("ALREADY_EXISTS: already imported"), AlreadyKnown)
    assert isinstance(node_refusal("nonce too low: next nonce 5, tx nonce 4"), NonceUsed)
    assert isinstance(node_refusal("replacement transaction underpriced"), Underpriced)
    assert isinstance(node_refusal("max fee per gas less than block base fee"), Underpriced)
    refusal = node_refusal("insufficient funds for gas * price + value")
    assert type(refusal) is NodeRefused


def test_a_legacy_transaction_is_stored_from_what_was_signed() -> None:
    """A pre-London node prices with gasPrice: the raw bytes are no typed transaction, so the
    stored form comes from the signed fields."""
    account = Account.from_key(b"\x07" * 32)
    fields: dict[str, Any] = {
        "to": account.address,
        "value": 0,
        "gas": 21_000,
        "gasPrice": 10**9,
        "nonce": 4,
        "chainId": 1337,
        "data": "0x",
    }
    signed = account.sign_transaction(fields)
    stored = SignedTx.of(signed, fields)
    assert (stored.nonce, stored.fees) == (4, {"gasPrice": 10**9})
    assert stored.raw_tx == bytes(signed.raw_transaction)
