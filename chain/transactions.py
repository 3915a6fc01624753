"""Building, signing and sending transactions: local nonces, EIP-1559 fees, fee bumps, reverts."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import TxParams, TxReceipt

from chain.errors import (
    AlreadyKnown,
    ChainConnectionError,
    ChainError,
    NonceUsed,
    TransactionFailed,
    node_refusal,
)
from chain.revert import decode_revert, revert_data_from
from core.hexstr import hex0x

_LOGGER = logging.getLogger(__name__)

GAS_MARGIN = 1.25  # estimates are exact for the state they ran on; leave room for state drift


@contextmanager
def chain_errors() -> Iterator[None]:
    """Translate web3 and transport exceptions into chain.errors (reverts by Solidity name)."""
    try:
        yield
    except ChainError:
        raise
    except ContractLogicError as exc:
        raise decode_revert(revert_data_from(exc)) from None
    except (ProviderConnectionError, ConnectionError, TimeoutError) as exc:
        raise ChainConnectionError(f"chain node unreachable: {exc}") from exc
    except OSError as exc:  # requests' exceptions derive from OSError
        raise ChainConnectionError(f"chain node unreachable: {exc}") from exc
    except TimeExhausted as exc:
        raise ChainConnectionError(f"timed out waiting for the chain: {exc}") from exc
    except Web3RPCError as exc:
        if revert_data_from(exc) is not None and "revert" in str(exc).lower():
            raise decode_revert(revert_data_from(exc)) from None
        raise node_refusal(f"node refused the request: {exc}") from exc
    except Web3Exception as exc:
        raise ChainError(str(exc)) from exc


def fee_fields(w3: Web3) -> dict[str, int]:
    """EIP-1559 fees (max fee = 2 x base fee + tip), or a legacy gas price on pre-London nodes."""
    with chain_errors():
        base = w3.eth.get_block("latest").get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(w3.eth.gas_price)}
        tip = int(w3.eth.max_priority_fee)
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base) + tip}


def estimate_gas(w3: Web3, tx: TxParams, margin: float = GAS_MARGIN) -> int:
    """One gas estimate times the margin; a revert raises its named exception."""
    with chain_errors():
        return int(w3.eth.estimate_gas(tx) * margin)


def unsigned_transaction(
    w3: Web3, sender: str, to: str | None, data: bytes | str, value: int = 0
) -> TxParams:
    """A complete unsigned EIP-1559 transaction for a user's wallet to sign."""
    tx: dict[str, Any] = {"from": Web3.to_checksum_address(sender), "data": _hex(data)}
    tx["value"] = value
    if to is not None:
        tx["to"] = Web3.to_checksum_address(to)
    with chain_errors():
        tx["chainId"] = int(w3.eth.chain_id)
        tx["nonce"] = int(w3.eth.get_transaction_count(tx["from"], "pending"))
    tx["gas"] = estimate_gas(w3, cast(TxParams, tx))
    tx.update(fee_fields(w3))
    return cast(TxParams, tx)


def _hex(data: bytes | str) -> str:
    return hex0x(data) if isinstance(data, bytes) else data


class TransactionSender:
    """Signs with one local account; keeps its nonce locally (synced from the chain on demand)."""

    def __init__(
        self, w3: Web3, account: LocalAccount, gas_margin: float = GAS_MARGIN, timeout: float = 120
    ) -> None:
        self.w3 = w3
        self.account = account
        self.gas_margin = gas_margin
        self.timeout = timeout
        self._nonce: int | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> ChecksumAddress:
        """The sending account's checksum address."""
        return self.account.address

    def resync_nonce(self) -> None:
        """Forget the local nonce; the next send reads the pending count from the chain."""
        with self._lock:
            self._nonce = None

    def send(self, to: str | None, data: bytes | str, value: int = 0) -> TxReceipt:
        """Estimate, sign, send and wait; a revert raises its named exception."""
        tx: dict[str, Any] = {"from": self.address, "data": _hex(data), "value": value}
        if to is not None:
            tx["to"] = Web3.to_checksum_address(to)
        tx["gas"] = estimate_gas(self.w3, cast(TxParams, tx), self.gas_margin)
        tx.update(fee_fields(self.w3))
        with chain_errors():
            tx["chainId"] = int(self.w3.eth.chain_id)
        tx_hash = self._sign_and_send(tx)
        with chain_errors():
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
        if receipt["status"] != 1:
            self._raise_failed(tx, receipt)
        return receipt

    def _sign_and_send(self, tx: dict[str, Any]) -> HexBytes:
        with self._lock:
            for attempt in (1, 2):
                if self._nonce is None:
                    with chain_errors():
                        self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
                tx["nonce"] = self._nonce
                signed = self.account.sign_transaction(tx)
                try:
                    with chain_errors():
                        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except ChainError as exc:
                    self._nonce = None  # the node may or may not have taken it: ask next time
                    if attempt == 1 and isinstance(exc, NonceUsed | AlreadyKnown):
                        _LOGGER.warning("stale nonce %d of %s: resyncing", tx["nonce"], tx["from"])
                        continue
                    raise
                self._nonce += 1
                return tx_hash
        raise AssertionError("unreachable")

    def _raise_failed(self, tx: dict[str, Any], receipt: TxReceipt) -> None:
        """Replay a failed transaction as a call on its block's state to recover the revert.

        The usual cause is state that changed between the estimate and the block (another
        transaction in the same block), which the block's post-state shows.
        """
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        with chain_errors():
            self.w3.eth.call(cast(TxParams, call), int(receipt["blockNumber"]))
        raise TransactionFailed(
            f"transaction 0x{bytes(receipt['transactionHash']).hex()} failed "
            f"(gas used {receipt['gasUsed']} of {tx['gas']})",
            tx_hash=bytes(receipt["transactionHash"]),
        )


def signed_fields(raw_tx: bytes) -> dict[str, Any]:
    """The fields of a signed typed transaction, less its type and signature: what was signed."""
    fields = dict(TypedTransaction.from_bytes(HexBytes(raw_tx)).as_dict())
    return {k: v for k, v in fields.items() if k not in ("type", "v", "r", "s", "yParity")}


def fee_of(fields: dict[str, Any]) -> dict[str, int]:
    """The fee fields of a transaction (EIP-1559 max fee and tip, or a legacy gas price)."""
    names = ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice")
    return {k: int(fields[k]) for k in names if k in fields}


# web3.py's replacement bump; geth needs >= 10 %, so 12.5 % clears every client we know.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8


def bumped(old: int, market: int) -> int:
    """At least old x 1.125 (rounded up) and at least the market's current fee."""
    return max(-(-old * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR), market)


def replacement_fields(raw_tx: bytes, market: dict[str, int]) -> dict[str, Any]:
    """The stored tx's fields with fees bumped >= 12.5 % (same nonce, gas, call)."""
    fields = signed_fields(raw_tx)
    if "maxFeePerGas" in fields:
        tip = bumped(int(fields["maxPriorityFeePerGas"]), market.get("maxPriorityFeePerGas", 0))
        fee = bumped(int(fields["maxFeePerGas"]), market.get("maxFeePerGas", 0))
        fields["maxPriorityFeePerGas"], fields["maxFeePerGas"] = tip, max(fee, tip)
    else:
        fields["gasPrice"] = bumped(int(fields["gasPrice"]), market.get("gasPrice", 0))
    return fields


_SENDERS: weakref.WeakKeyDictionary[Web3, dict[str, TransactionSender]] = (
    weakref.WeakKeyDictionary()
)
_SENDERS_LOCK = threading.Lock()


def sender_for(w3: Web3, account: LocalAccount | TransactionSender) -> TransactionSender:
    """The one TransactionSender per (Web3 instance, account), so nonces stay consistent."""
    if isinstance(account, TransactionSender):
        return account
    with _SENDERS_LOCK:
        senders = _SENDERS.setdefault(w3, {})
        sender = senders.get(account.address)
        if sender is None:
            sender = senders[account.address] = TransactionSender(w3, account)
        return sender


def resync_nonces(w3: Web3) -> None:
    """Make every cached sender of `w3` re-read its nonce (after a reorg or evm_revert)."""
    with _SENDERS_LOCK:
        senders = list(_SENDERS.get(w3, {}).values())
    for sender in senders:
        sender.resync_nonce()


def receipt_or_none(w3: Web3, tx_hash: str, wait: float = 0) -> Any:
    """The receipt of `tx_hash`, waiting up to `wait` seconds for it; None if it is not mined."""
    with chain_errors():
        try:
            if wait > 0:
                return w3.eth.wait_for_transaction_receipt(
                    tx_hash,  # type: ignore[arg-type]
                    timeout=wait,
                    poll_latency=0.05,
                )
            return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except (TransactionNotFound, TimeExhausted):
            return None


def node_knows(w3: Web3, tx_hash: str) -> bool:
    """Whether the node holds `tx_hash`, mined or in its mempool."""
    with chain_errors():
        try:
            w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
    return True


# Blocks per eth_getLogs request when reading a contract's history (nodes cap the range).
LOG_RANGE = 10_000


def ranged_logs(
    event: Any, start: int, end: int, argument_filters: dict[str, Any] | None = None
) -> list[Any]:
    """A contract event's logs in blocks [start, end], read LOG_RANGE blocks a request."""
    logs: list[Any] = []
    with chain_errors():
        for low in range(start, end + 1, LOG_RANGE):
            high = min(end, low + LOG_RANGE - 1)
            logs += event.get_logs(from_block=low, to_block=high, argument_filters=argument_filters)
    return logs
