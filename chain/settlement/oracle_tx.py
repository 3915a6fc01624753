"""The settlement worker's one oracle transaction in flight: its record, sent by DurableSender.

The oracle sends one transaction at a time, so one record per (chain, oracle address) in the
store's settings table is enough: the signed raw tx, its hash, nonce and fees, the shipment and
action, and the block at which it was stored. It is written before the tx is broadcast and
cleared once its nonce is mined, so a restarted worker knows what it was waiting for; following
it (sent again, replaced) is chain.durable_tx's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.types import TxParams, Wei

import store
from chain.clients import EscrowClient, TxResult
from chain.durable_tx import DurableSender, SignedTx, Step
from chain.errors import ChainConnectionError, ChainError, ContractRevert
from chain.settings import SettleSettings
from chain.transactions import chain_errors, receipt_or_none, signed_fields
from core.hexstr import hex0x

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class InFlight:
    """What following the oracle's stored transaction did this pass."""

    waiting: bool  # an oracle tx is unmined: the shipment in hand waits
    rebroadcast: str | None = None  # the shipment whose stored tx was sent again unchanged
    replaced: str | None = None  # the shipment whose stored tx was re-signed, fees bumped


_NOTHING = InFlight(waiting=False)
_WAITING = InFlight(waiting=True)


def record_key(chain_id: int, oracle: str) -> str:
    """The settings key of an oracle's transaction in flight on one chain."""
    return f"settlement-oracle-tx:{chain_id}:{oracle.lower()}"


@dataclass(frozen=True)
class OracleTx:
    """A signed oracle transaction, stored before it is sent."""

    action: str  # "attest" or "settle"
    shipment_id: str  # 0x-hex
    nonce: int
    tx_hash: str
    raw_tx: bytes
    fees: dict[str, int]
    block: int  # the head when it was stored: replacement counts blocks from here
    hashes: tuple[str, ...] = field(default=())  # every tx signed at this nonce, oldest first

    @classmethod
    def signed(cls, action: str, shipment_id: str, signed: SignedTx, block: int) -> OracleTx:
        """The record of a freshly signed transaction."""
        return cls(
            action,
            shipment_id,
            signed.nonce,
            signed.tx_hash,
            signed.raw_tx,
            signed.fees,
            block,
            (signed.tx_hash,),
        )

    def replaced_by(self, signed: SignedTx, block: int) -> OracleTx:
        """The record of this tx's replacement (same nonce and call, higher fees)."""
        new = OracleTx.signed(self.action, self.shipment_id, signed, block)
        return replace(new, hashes=(*self.hashes, new.tx_hash))

    def to_json(self) -> dict[str, Any]:
        """The settings-table value."""
        return {
            "action": self.action,
            "shipment_id": self.shipment_id,
            "nonce": self.nonce,
            "tx_hash": self.tx_hash,
            "raw_tx": hex0x(self.raw_tx),
            "fees": self.fees,
            "block": self.block,
            "hashes": list(self.hashes),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> OracleTx:
        """Read back a settings-table value."""
        return cls(
            action=str(value["action"]),
            shipment_id=str(value["shipment_id"]),
            nonce=int(value["nonce"]),
            tx_hash=str(value["tx_hash"]),
            raw_tx=bytes.fromhex(str(value["raw_tx"])[2:]),
            fees={str(k): int(v) for k, v in value["fees"].items()},
            block=int(value["block"]),
            hashes=tuple(str(h) for h in value["hashes"]),
        )


class OracleSender:
    """Sends the oracle's transactions one at a time, each stored first; follows the unmined one."""

    def __init__(
        self,
        settings: SettleSettings,
        sessions: sessionmaker[Session],
        w3: Web3,
        oracle: LocalAccount,
        escrow: EscrowClient,
        chain_id: int,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.w3 = w3
        self.oracle = oracle
        self.escrow = escrow
        self.key = record_key(chain_id, oracle.address)
        self.durable = DurableSender(w3, oracle, settings.replace_after_blocks)
        self._warned: object = None  # what the last "waiting" warning was about (log once)

    # ---------------------------------------------------------------- the record

    def stored(self) -> OracleTx | None:
        """The oracle's stored transaction, if one is not known to be mined."""
        with store.read_transaction(self.sessions) as session:
            value = store.get_setting(session, self.key)
        return None if value is None else OracleTx.from_json(value)

    def _store(self, record: OracleTx) -> None:
        with store.transaction(self.sessions) as session:
            store.set_setting(session, self.key, record.to_json())

    def _clear(self, record: OracleTx) -> None:
        with store.transaction(self.sessions) as session:
            if store.get_setting(session, self.key) == record.to_json():  # not a newer one
                store.delete_setting(session, self.key)

    # ---------------------------------------------------------------- sending

    def next_nonce(self) -> int:
        """The nonce of the next transaction (nothing of the oracle's is in flight then)."""
        with chain_errors():
            return int(self.w3.eth.get_transaction_count(self.oracle.address, "pending"))

    def send(self, action: str, shipment_id: str, signed: SignedTransaction) -> TxResult | None:
        """Store, then send and wait receipt_timeout: the result, or None while unmined."""
        record = OracleTx.signed(action, shipment_id, SignedTx.of(signed), self.durable.head())
        self._store(record)
        return self._send_stored(record)

    def _send_stored(self, record: OracleTx, sent: bool = False) -> TxResult | None:
        """Send (unless `sent`) and wait receipt_timeout for the stored tx's result."""
        try:
            timeout = self.settings.receipt_timeout
            if sent:
                result = self.escrow.result_of(record.raw_tx, timeout)
            else:
                result = self.escrow.send_signed(record.raw_tx, timeout)
        except ChainConnectionError:
            raise
        except ChainError:
            self._clear_if_mined(record)  # reverted in a block: the record has served
            raise
        if result is not None:
            self._clear(record)
        return result

    # ---------------------------------------------------------------- in flight

    def in_flight(self) -> InFlight:
        """Whether an oracle tx is unmined (the shipment then waits); re-sends or replaces ours.

        Checked before the escrow is read: a read before the tx's block would not show it.
        """
        with chain_errors():
            mined = int(self.w3.eth.get_transaction_count(self.oracle.address, "latest"))
            pending = int(self.w3.eth.get_transaction_count(self.oracle.address, "pending"))
        record = self.stored()
        if record is not None and record.nonce < mined:
            self._clear_mined(record)
            record = None
        if record is not None and record.nonce == mined:
            return self._follow(record)
        if pending <= mined:
            return _NOTHING
        # Not the stored tx: of a run before records were kept, or sent with this key elsewhere.
        if self._warned != (mined, pending):
            self._warned = (mined, pending)
            _LOGGER.warning(
                "oracle %s has unmined transactions (nonces %d..%d) it has no record of: "
                "sending nothing until mined",
                *(self.oracle.address, mined, pending - 1),
            )
        return _WAITING

    def _follow(self, record: OracleTx) -> InFlight:
        """Our stored tx holds the next nonce: wait, re-send or replace it."""
        waited = self.durable.head() - record.block
        try:
            step = self.durable.follow(
                record.tx_hash, record.raw_tx, record.block, lambda: self._would_succeed(record)
            )
        except ChainConnectionError:
            raise
        except ChainError:
            self._clear_if_mined(record)
            raise
        if step is Step.REPLACE:
            return self._replace(record, waited)
        if step is Step.ABANDONED:
            self._clear(record)
            return _NOTHING
        if step is Step.WAITING:
            self._warn_once(record, f"unmined for {waited} blocks, in the node's mempool")
        elif step is Step.UNDERPRICED:
            self._warn_once(record, f"refused by the node for its fees; {waited} blocks so far")
        if step is not Step.SENT:  # waiting, or its nonce mined meanwhile: the next pass reads it
            return _WAITING
        _LOGGER.info(
            "oracle tx %s (%s %s) sent again", record.tx_hash, record.action, record.shipment_id
        )
        result = self._send_stored(record, sent=True)
        return InFlight(waiting=result is None, rebroadcast=record.shipment_id)

    def _replace(self, record: OracleTx, waited: int) -> InFlight:
        """Re-sign the same call at the same nonce with fees bumped >= 12.5 %, store, send."""
        if not self._would_succeed(record):
            self._warn_once(record, "would revert now: not replaced")
            return _WAITING
        new = record.replaced_by(self.durable.replacement(record.raw_tx), self.durable.head())
        self._store(new)
        _LOGGER.warning(
            "oracle tx %s (%s %s) unmined for %d blocks; replaced by %s (nonce %d, fees %s)",
            *(record.tx_hash, record.action, record.shipment_id, waited, new.tx_hash),
            *(new.nonce, new.fees),
        )
        try:
            result = self._send_stored(new)
        except ChainConnectionError:
            raise
        except ChainError as exc:  # stored: the next pass sends it again or reads what mined
            _LOGGER.warning("oracle tx %s: replacement not accepted yet: %s", new.tx_hash, exc)
            result = None
        return InFlight(waiting=result is None, replaced=record.shipment_id)

    def _clear_mined(self, record: OracleTx) -> None:
        """The record's nonce is used: log which of its txs mined (if any), forget it."""
        for tx_hash in reversed(record.hashes):
            receipt = receipt_or_none(self.w3, tx_hash)
            if receipt is None:
                continue
            what = (tx_hash, record.action, record.shipment_id, receipt["blockNumber"])
            if receipt["status"] == 1:
                _LOGGER.info("oracle tx %s (%s %s) mined in block %d", *what)
            else:
                _LOGGER.error("oracle tx %s (%s %s) reverted in block %d", *what)
            break
        else:
            _LOGGER.warning(
                "oracle tx %s: its nonce %d was used by another tx", record.tx_hash, record.nonce
            )
        self._clear(record)

    def _clear_if_mined(self, record: OracleTx) -> None:
        with chain_errors():
            mined = int(self.w3.eth.get_transaction_count(self.oracle.address, "latest"))
        if record.nonce < mined:
            self._clear(record)

    def _would_succeed(self, record: OracleTx) -> bool:
        """Whether the stored call still passes on the latest state (else sending it reverts)."""
        fields = signed_fields(record.raw_tx)
        call: TxParams = {
            "from": self.oracle.address,
            "to": Web3.to_checksum_address(fields["to"]),
            "data": bytes(fields["data"]),
            "value": Wei(int(fields.get("value", 0))),
        }
        try:
            self.escrow.simulate(call)
        except ContractRevert as exc:
            _LOGGER.warning(
                "oracle tx %s (%s %s) would revert now: %s",
                *(record.tx_hash, record.action, record.shipment_id, exc),
            )
            return False
        return True

    def _warn_once(self, record: OracleTx, why: str) -> None:
        if self._warned != record.tx_hash:
            self._warned = record.tx_hash
            _LOGGER.warning(
                "oracle tx %s (%s %s, nonce %d): %s; sending nothing else",
                *(record.tx_hash, record.action, record.shipment_id, record.nonce, why),
            )
