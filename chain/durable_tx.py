"""One durable way for a worker to send a transaction: stored before it is sent, followed.

The anchoring worker (a transaction per batch, stored on the batch's row) and the settlement
worker (the oracle's one transaction in flight, stored in the settings table) both:
- sign a transaction and store its raw bytes in their own table *before* broadcasting it, so a
  crash at any point sends the same bytes again, never a second transaction for the same step;
- follow each stored, unmined transaction every pass (`DurableSender.follow`): while the node
  holds it in its pool it waits, and once it has waited `replace_after_blocks` blocks it is
  re-signed at the same nonce with fees bumped >= 12.5 % (`replacement`, stored before it is
  sent like the first); one the node does not hold (never sent, or dropped) is sent again
  unchanged; one the node refuses for its fees is stuck the same way;
- adopt what is already on chain instead of sending: that check is the worker's (a root on
  TraceAnchor, an attestation on the escrow), made before `follow`.

The node's refusals are sorted once into chain.errors (NonceUsed, AlreadyKnown, Underpriced);
nothing here matches a message.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.errors import AlreadyKnown, NonceUsed, Underpriced
from chain.transactions import (
    chain_errors,
    fee_fields,
    fee_of,
    node_knows,
    replacement_fields,
    signed_fields,
)
from core.hexstr import hex0x


class Step(enum.Enum):
    """What following a stored transaction did or asks of its worker."""

    SENT = "sent"  # the node did not hold it: the same bytes were sent again
    WAITING = "waiting"  # in the node's pool, not waited long enough
    UNDERPRICED = "underpriced"  # refused for its fees, not waited long enough: it waits
    REPLACE = "replace"  # waited replace_after_blocks: the worker stores `replacement()`, sends
    NONCE_USED = "nonce used"  # another transaction took its nonce: the worker reads what mined
    ABANDONED = "abandoned"  # the worker's check said the call would fail now: not sent


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction as a worker stores it."""

    tx_hash: str  # 0x-hex
    raw_tx: bytes
    nonce: int
    fees: dict[str, int]

    @classmethod
    def of(cls, signed: SignedTransaction, fields: Mapping[str, Any] | None = None) -> SignedTx:
        """The stored form of a freshly signed transaction; `fields`: what was signed (read
        from the raw bytes when not given, which needs a typed EIP-1559 transaction)."""
        raw = bytes(signed.raw_transaction)
        fields = signed_fields(raw) if fields is None else fields
        return cls(hex0x(signed.hash), raw, int(fields["nonce"]), fee_of(dict(fields)))


class DurableSender:
    """Signs, sends and follows one account's stored transactions; stores nothing itself."""

    def __init__(self, w3: Web3, account: LocalAccount, replace_after_blocks: int) -> None:
        self.w3 = w3
        self.account = account
        self.replace_after_blocks = replace_after_blocks

    def sign(self, fields: dict[str, Any]) -> SignedTx:
        """Sign complete transaction fields (nonce, gas, fees, chain id included)."""
        return SignedTx.of(self.account.sign_transaction(fields), fields)

    def replacement(self, raw_tx: bytes) -> SignedTx:
        """The stored transaction re-signed at its nonce, same call, fees bumped >= 12.5 %
        (and at least the market's)."""
        return self.sign(replacement_fields(raw_tx, fee_fields(self.w3)))

    def head(self) -> int:
        """The chain's latest block number."""
        with chain_errors():
            return int(self.w3.eth.block_number)

    def broadcast(self, raw_tx: bytes) -> None:
        """Send signed bytes; the node already holding them is no error. Other refusals raise
        their chain.errors type (NonceUsed, Underpriced, ...)."""
        try:
            with chain_errors():
                self.w3.eth.send_raw_transaction(raw_tx)
        except AlreadyKnown:
            pass

    def follow(
        self,
        tx_hash: str,
        raw_tx: bytes,
        since_block: int,
        still_valid: Callable[[], bool] | None = None,
    ) -> Step:
        """One pass over a stored, unmined transaction (the worker checked its receipt and what is
        on chain first). `since_block`: the block it was stored or first seen pending at;
        `still_valid`: asked before sending again bytes the node does not hold."""
        stuck = self.head() - since_block >= self.replace_after_blocks
        if node_knows(self.w3, tx_hash):
            return Step.REPLACE if stuck else Step.WAITING
        if still_valid is not None and not still_valid():
            return Step.ABANDONED
        try:
            self.broadcast(raw_tx)
        except NonceUsed:
            return Step.NONCE_USED
        except Underpriced:
            # Dropped or refused for its fees (the base fee rose above its max fee): it is stuck
            # the same way a transaction left in the pool is.
            return Step.REPLACE if stuck else Step.UNDERPRICED
        return Step.SENT
