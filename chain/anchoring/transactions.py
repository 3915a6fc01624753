"""The anchoring worker's transactions: calldata per batch, fees and nonces, signed into the store.

A platform batch is anchored with `anchor(root, leafCount)`; a batch whose root a brand signed
is relayed with `anchorCommissioning(root, leafCount, brand, signature)`, and only so: a root the
contract refuses for the brand is never anchored as a platform root. The brand and its signature
are the batch's `brand_address` and `brand_signature` columns (written by the API); the
TraceAnchor release is the batch's `anchor_version`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from web3 import Web3

import store
from chain.clients import TraceAnchorClient
from chain.durable_tx import SignedTx
from chain.errors import ChainValueError, DeploymentNotFound
from chain.transactions import chain_errors, estimate_gas, fee_fields
from core.hexstr import hex0x
from store.models import AnchorBatch, BatchStatus
from store.models.types import utcnow

_LOGGER = logging.getLogger(__name__)


def _batch_of(session: Session, root: bytes) -> AnchorBatch | None:
    return session.scalar(select(AnchorBatch).where(AnchorBatch.root == bytes(root)))


@dataclass(frozen=True)
class AnchorCall:
    """The contract call that anchors one batch's root."""

    root: bytes
    leaf_count: int
    data: str
    to: str  # the batch's TraceAnchor release
    brand: str | None = None  # set for a brand-signed commissioning root

    @property
    def kind(self) -> str:
        """ "commissioning" or "platform", for logs."""
        return "commissioning" if self.brand else "platform"


class AnchorTransactions:
    """Builds and signs anchoring transactions for one account; the nonce comes from the store.

    `anchors` holds a client per TraceAnchor release; new roots go to the newest.
    """

    def __init__(
        self, w3: Web3, account: LocalAccount, anchors: Mapping[int, TraceAnchorClient]
    ) -> None:
        self.w3 = w3
        self.account = account
        self.anchors = dict(anchors)
        self.newest = max(self.anchors)
        self._platform_gas: dict[str, int] = {}

    @property
    def anchor(self) -> TraceAnchorClient:
        """The release new roots go to."""
        return self.anchors[self.newest]

    def client_for(self, version: int) -> TraceAnchorClient:
        """The client of TraceAnchor release `version`; DeploymentNotFound if this worker's
        deployment lacks it (upgraded since it started: it waits, the batch is not failed)."""
        try:
            return self.anchors[version]
        except KeyError:
            raise DeploymentNotFound(
                f"TraceAnchor v{version} is not in this worker's deployment (restart it after an"
                " upgrade)"
            ) from None

    def call_for(self, session: Session, root: bytes, leaf_count: int) -> AnchorCall:
        """The call for a batch: anchorCommissioning if a brand signed its root, else anchor."""
        batch = _batch_of(session, root)
        client = self.client_for(batch.anchor_version if batch is not None else self.newest)
        if batch is None or batch.brand_address is None:
            data = client.contract.encode_abi("anchor", [root, leaf_count])
            return AnchorCall(root, leaf_count, data, client.address)
        if batch.brand_signature is None:
            raise ChainValueError(f"brand-signed batch {hex0x(root)} has no signature")
        if batch.leaf_count != leaf_count:
            raise ChainValueError(
                f"brand signed {batch.leaf_count} leaves for {hex0x(root)}, not {leaf_count}"
            )
        brand = Web3.to_checksum_address(batch.brand_address)
        signature = bytes(batch.brand_signature)
        data = client.contract.encode_abi(
            "anchorCommissioning", [root, leaf_count, brand, signature]
        )
        return AnchorCall(root, leaf_count, data, client.address, brand)

    @staticmethod
    def refuse_commissioning(session: Session, root: bytes, error: str) -> bool:
        """Remember why a brand-signed root cannot be relayed (the brand sees it); False if
        `root` is not one."""
        batch = _batch_of(session, root)
        if batch is None or batch.brand_address is None:
            return False
        batch.relay_refused_at, batch.relay_error = utcnow(), error[:1000]
        session.flush()
        return True

    def forget_gas(self) -> None:
        """Estimate the platform gas limit again next time (after an on-chain revert)."""
        self._platform_gas.clear()

    def gas_for(self, call: AnchorCall | None) -> int:
        """Gas limit: estimated per commissioning call, once per release for platform calls
        (the same for all; None: a platform call to the newest release)."""
        if call is not None and call.brand is not None:
            # The brand's signature check makes each relay differ; a revert raises its name.
            tx = {"from": self.account.address, "to": call.to, "data": call.data}
            return estimate_gas(self.w3, tx)  # type: ignore[arg-type]
        to = self.anchor.address if call is None else call.to
        if to not in self._platform_gas:
            # A fresh root costs the same whatever its bytes; a random one also checks the role.
            probe = self.anchor.contract.encode_abi("anchor", [os.urandom(32), 1])
            tx = {"from": self.account.address, "to": to, "data": probe}
            self._platform_gas[to] = estimate_gas(self.w3, tx)  # type: ignore[arg-type]
        return self._platform_gas[to]

    def base(self, gas: int, to: str | None = None) -> dict[str, Any]:
        """Chain id, fees, gas and the account's pending nonce, read before any DB transaction;
        `to` is the call's release (default: the newest)."""
        with chain_errors():
            chain_id = int(self.w3.eth.chain_id)
            pending = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))
        return {
            "chainId": chain_id,
            "to": to or self.anchor.address,
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
        signed = SignedTx.of(self.account.sign_transaction(tx), tx)
        store.mark_sent(
            session, batch.id, tx_hash=signed.tx_hash, raw_tx=signed.raw_tx, nonce=nonce
        )
        _LOGGER.info(
            "batch %d: %s root %s (%d leaves), tx %s nonce %d",
            *(batch.id, call.kind, hex0x(call.root), call.leaf_count, signed.tx_hash, nonce),
        )

    @staticmethod
    def next_nonce(session: Session, pending: int) -> int:
        """The chain's pending count, or past the highest nonce a stored sent batch holds."""
        # Sent batches not mined yet (or dropped from a mempool) keep their nonces reserved.
        highest = session.scalar(
            select(func.max(AnchorBatch.nonce)).where(AnchorBatch.status == BatchStatus.SENT)
        )
        return pending if highest is None else max(pending, int(highest) + 1)


def store_replacement(session: Session, batch: AnchorBatch, signed: SignedTx) -> None:
    """Store a sent batch's replacement tx (same nonce, fees bumped); its status stays sent."""
    if batch.raw_tx is None or batch.nonce is None:
        raise ChainValueError(f"batch {batch.id} has no stored transaction to replace")
    store.mark_sent(
        session, batch.id, tx_hash=signed.tx_hash, raw_tx=signed.raw_tx, nonce=batch.nonce
    )
