"""The anchoring worker's transactions: calldata per batch, fees and nonces, signed into the store.

A platform batch is anchored with `anchor(root, leafCount)`; a batch whose root a brand signed
is relayed with `anchorCommissioning(root, leafCount, brand, signature)`. The brand's signature
is read from the store's settings table under COMMISSIONING_BATCH_KEY (written by the API).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from web3 import Web3

import store
from chain.clients import TraceAnchorClient
from chain.errors import ChainValueError
from chain.transactions import chain_errors, estimate_gas, fee_fields
from store.models import AnchorBatch, BatchStatus

_LOGGER = logging.getLogger(__name__)

# Where the API records a brand-signed batch (api/commissioning_store.py's BATCH_KEY; chain
# cannot import api): {"leafCount": n, "brand": "0x..", "signature": "0x..", ...}.
COMMISSIONING_BATCH_KEY = "commissioning:batch:{root}"
# Written by this worker when the contract refuses a brand's signature: the same leaves (same
# root) are then anchored as a platform batch instead of failing again: {"error": "..."}.
COMMISSIONING_REFUSED_KEY = "commissioning:refused:{root}"


def hex0x(value: bytes) -> str:
    """0x-prefixed lowercase hex."""
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class AnchorCall:
    """The contract call that anchors one batch's root."""

    root: bytes
    leaf_count: int
    data: str
    brand: str | None = None  # set for a brand-signed commissioning root

    @property
    def kind(self) -> str:
        """ "commissioning" or "platform", for logs."""
        return "commissioning" if self.brand else "platform"


class AnchorTransactions:
    """Builds and signs anchoring transactions for one account; the nonce comes from the store."""

    def __init__(self, w3: Web3, account: LocalAccount, anchor: TraceAnchorClient) -> None:
        self.w3 = w3
        self.account = account
        self.anchor = anchor
        self._platform_gas: int | None = None

    def call_for(self, session: Session, root: bytes, leaf_count: int) -> AnchorCall:
        """The call for a batch: anchorCommissioning if a brand signed its root, else anchor."""
        record = store.get_setting(session, COMMISSIONING_BATCH_KEY.format(root=hex0x(root)))
        refused = store.get_setting(session, COMMISSIONING_REFUSED_KEY.format(root=hex0x(root)))
        if record is None or refused is not None:
            data = self.anchor.contract.encode_abi("anchor", [root, leaf_count])
            return AnchorCall(root, leaf_count, data)
        try:
            brand = Web3.to_checksum_address(record["brand"])
            signature = bytes.fromhex(str(record["signature"]).removeprefix("0x"))
            signed_count = int(record["leafCount"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ChainValueError(
                f"malformed commissioning record for {hex0x(root)}: {exc}"
            ) from None
        if signed_count != leaf_count:
            raise ChainValueError(
                f"brand signed {signed_count} leaves for {hex0x(root)}, the batch has {leaf_count}"
            )
        data = self.anchor.contract.encode_abi(
            "anchorCommissioning", [root, leaf_count, brand, signature]
        )
        return AnchorCall(root, leaf_count, data, brand)

    @staticmethod
    def refuse_commissioning(session: Session, root: bytes, error: str) -> bool:
        """Remember that a brand-signed root cannot be relayed; False if `root` is not one."""
        if store.get_setting(session, COMMISSIONING_BATCH_KEY.format(root=hex0x(root))) is None:
            return False
        store.set_setting(
            session, COMMISSIONING_REFUSED_KEY.format(root=hex0x(root)), {"error": error[:1000]}
        )
        return True

    def forget_gas(self) -> None:
        """Estimate the platform gas limit again next time (after an on-chain revert)."""
        self._platform_gas = None

    def gas_for(self, call: AnchorCall | None) -> int:
        """Gas limit: estimated per commissioning call, once for platform calls (same for all)."""
        if call is not None and call.brand is not None:
            # The brand's signature check makes each relay differ; a revert raises its name.
            tx = {"from": self.account.address, "to": self.anchor.address, "data": call.data}
            return estimate_gas(self.w3, tx)  # type: ignore[arg-type]
        if self._platform_gas is None:
            # A fresh root costs the same whatever its bytes; a random one also checks the role.
            probe = self.anchor.contract.encode_abi("anchor", [os.urandom(32), 1])
            tx = {"from": self.account.address, "to": self.anchor.address, "data": probe}
            self._platform_gas = estimate_gas(self.w3, tx)  # type: ignore[arg-type]
        return self._platform_gas

    def base(self, gas: int) -> dict[str, Any]:
        """Chain id, fees, gas and the account's pending nonce, read before any DB transaction."""
        with chain_errors():
            chain_id = int(self.w3.eth.chain_id)
            pending = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))
        return {
            "chainId": chain_id,
            "to": self.anchor.address,
            "value": 0,
            "gas": gas,
            "pending_nonce": pending,
            **fee_fields(self.w3),
        }

    def sign_into(
        self, session: Session, batch: AnchorBatch, call: AnchorCall, base: dict[str, Any]
    ) -> None:
        """Sign the call and store it on the batch (status sent) in the caller's transaction."""
        nonce = self.next_nonce(session, int(base["pending_nonce"]))
        tx: dict[str, Any] = {k: v for k, v in base.items() if k != "pending_nonce"}
        tx.update(nonce=nonce, data=call.data)
        signed = self.account.sign_transaction(tx)
        store.mark_sent(
            session,
            batch.id,
            tx_hash=hex0x(signed.hash),
            raw_tx=bytes(signed.raw_transaction),
            nonce=nonce,
        )
        _LOGGER.info(
            "batch %d: %s root %s (%d leaves), tx %s nonce %d",
            batch.id, call.kind, hex0x(call.root), call.leaf_count, hex0x(signed.hash), nonce,
        )  # fmt: skip

    @staticmethod
    def next_nonce(session: Session, pending: int) -> int:
        """The chain's pending count, or past the highest nonce a stored sent batch holds."""
        # Sent batches not mined yet (or dropped from a mempool) keep their nonces reserved.
        highest = session.scalar(
            select(func.max(AnchorBatch.nonce)).where(AnchorBatch.status == BatchStatus.SENT)
        )
        return pending if highest is None else max(pending, int(highest) + 1)
