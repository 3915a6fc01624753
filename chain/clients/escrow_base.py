"""What every ShipmentEscrow release shares: roles, pull payments, disputes, settle, refund.

The oracle's calls can also be signed without being sent (sign_settle, and each release's
sign_attest) and sent later (send_signed): the settlement worker stores each signed transaction
before sending it.
"""

from __future__ import annotations

from typing import Any, NoReturn, cast

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound
from web3.types import BlockIdentifier, TxParams, Wei

from chain.clients.base import ContractClient, Signer, as_bytes32, checksum
from chain.clients.types import ZERO_ADDRESS, TxResult
from chain.errors import AlreadyKnown, ChainValueError, TransactionFailed
from chain.transactions import (
    chain_errors,
    estimate_gas,
    fee_fields,
    signed_fields,
    unsigned_transaction,
)

# approve(address,uint256) of an ERC-20: the one token call a buyer makes before funding.
_ERC20_APPROVE_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


def signature_bytes(value: bytes, what: str) -> bytes:
    """A signature argument as bytes; ChainValueError for anything else."""
    if not isinstance(value, bytes | bytearray):
        raise ChainValueError(f"{what} must be bytes")
    return bytes(value)


def uint256(value: int, what: str) -> int:
    """An integer argument in [0, 2**256); ChainValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise ChainValueError(f"{what} must be an integer in [0, 2**256)")
    return value


def fund_value(token: Any, amount: Any) -> int:
    """msg.value of fund: the amount for ETH terms (token zero), nothing for a token."""
    try:
        is_eth = int(str(token), 16) == 0
    except ValueError:
        raise ChainValueError(f"terms token is not an address: {str(token)[:50]!r}") from None
    return int(amount) if is_eth else 0


class EscrowClient(ContractClient):
    """The calls every ShipmentEscrow release has, with the same arguments."""

    def oracle_role(self) -> bytes:
        """ORACLE_ROLE = keccak256("ORACLE_ROLE")."""
        return bytes(self._constant("ORACLE_ROLE"))

    def trace_anchor(self) -> str:
        """The TraceAnchor whose domain readings are signed in."""
        return checksum(self._constant("traceAnchor"))

    def owed(
        self, account: str, token: str = ZERO_ADDRESS, block: BlockIdentifier = "latest"
    ) -> int:
        """`token` (ETH by default) credited to `account` and not yet withdrawn."""
        args = (checksum(token, "token"), checksum(account, "account"))
        return int(self._call("owed", *args, block=block))

    def total_owed(self, token: str = ZERO_ADDRESS, block: BlockIdentifier = "latest") -> int:
        """All of `token` credited to accounts and not yet withdrawn."""
        return int(self._call("totalOwed", checksum(token, "token"), block=block))

    def is_token_allowed(self, token: str) -> bool:
        """Whether deposits in `token` are accepted (always for ETH, the zero address)."""
        return bool(self._call("isTokenAllowed", checksum(token, "token")))

    def build_set_token_allowed(self, sender: str, token: str, allowed: bool) -> TxParams:
        """Unsigned setTokenAllowed (admin only)."""
        return self._build(sender, "setTokenAllowed", checksum(token, "token"), bool(allowed))

    def send_set_token_allowed(self, signer: Signer, token: str, allowed: bool) -> TxResult:
        """setTokenAllowed signed by the admin's key."""
        return self._send(signer, "setTokenAllowed", checksum(token, "token"), bool(allowed))

    def build_token_approval(self, sender: str, token: str, amount: int) -> TxParams:
        """Unsigned ERC-20 approve(escrow, amount): what a buyer signs before funding in a token."""
        erc20 = self.w3.eth.contract(address=checksum(token, "token"), abi=_ERC20_APPROVE_ABI)
        data = str(erc20.encode_abi("approve", [self.address, uint256(amount, "amount")]))
        return unsigned_transaction(self.w3, sender, erc20.address, data, 0)

    def sign_settle(
        self, account: LocalAccount, shipment_id: bytes | str, nonce: int
    ) -> SignedTransaction:
        """settle signed by `account` at `nonce` with the market's fees, not sent."""
        return self._sign(account, nonce, "settle", as_bytes32(shipment_id, "shipment_id"))

    def _sign(
        self, account: LocalAccount, nonce: int, function: str, *args: Any
    ) -> SignedTransaction:
        # The estimate runs the call: one that would revert now raises its named exception.
        tx: dict[str, Any] = {
            "from": account.address,
            "to": self.address,
            "data": self._data(function, *args),
            "value": 0,
        }
        tx["gas"] = estimate_gas(self.w3, cast(TxParams, tx))
        tx.update(fee_fields(self.w3), chainId=self.chain_id(), nonce=nonce)
        return account.sign_transaction(tx)

    def send_signed(self, raw_tx: bytes, timeout: float) -> TxResult | None:
        """Send a signed tx and wait up to `timeout` s: None if still unmined; reverts raise."""
        try:
            with chain_errors():
                self.w3.eth.send_raw_transaction(raw_tx)
        except AlreadyKnown:  # the node holds it: wait for it
            pass
        return self.result_of(raw_tx, timeout)

    def result_of(self, raw_tx: bytes, timeout: float = 0) -> TxResult | None:
        """The signed tx's result if mined (waiting up to `timeout` s), else None; reverts raise."""
        tx_hash = Web3.keccak(raw_tx)
        with chain_errors():
            try:
                if timeout > 0:
                    receipt = self.w3.eth.wait_for_transaction_receipt(
                        tx_hash, timeout=timeout, poll_latency=0.1
                    )
                else:
                    receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            except (TimeExhausted, TransactionNotFound):
                return None
        if receipt["status"] != 1:
            self._raise_failed(raw_tx, receipt)
        return TxResult.from_receipt(receipt)

    def _raise_failed(self, raw_tx: bytes, receipt: Any) -> NoReturn:
        """Replay a mined, reverted tx as a call on its block's state to name the revert."""
        fields = signed_fields(raw_tx)
        call: TxParams = {
            "from": Account.recover_transaction(raw_tx),
            "to": checksum(fields["to"]),
            "data": bytes(fields["data"]),
            "value": Wei(int(fields.get("value", 0))),
            "gas": int(fields["gas"]),
        }
        with chain_errors():
            self.w3.eth.call(call, int(receipt["blockNumber"]))
        raise TransactionFailed(
            f"transaction 0x{bytes(receipt['transactionHash']).hex()} failed "
            f"(gas used {receipt['gasUsed']} of {call['gas']})",
            tx_hash=bytes(receipt["transactionHash"]),
        )

    def build_open_dispute(self, sender: str, shipment_id: bytes | str) -> TxParams:
        """Unsigned openDispute (buyer or payee, within the dispute window)."""
        return self._build(sender, "openDispute", as_bytes32(shipment_id, "shipment_id"))

    def send_open_dispute(self, signer: Signer, shipment_id: bytes | str) -> TxResult:
        """openDispute signed by the buyer's or payee's key."""
        return self._send(signer, "openDispute", as_bytes32(shipment_id, "shipment_id"))

    def build_resolve_dispute(self, sender: str, shipment_id: bytes | str, payout: int) -> TxParams:
        """Unsigned resolveDispute: the arbiter's payout to the payee, the rest to the buyer."""
        args = (as_bytes32(shipment_id, "shipment_id"), uint256(payout, "payout"))
        return self._build(sender, "resolveDispute", *args)

    def send_resolve_dispute(
        self, signer: Signer, shipment_id: bytes | str, payout: int
    ) -> TxResult:
        """resolveDispute signed by the arbiter's key."""
        args = (as_bytes32(shipment_id, "shipment_id"), uint256(payout, "payout"))
        return self._send(signer, "resolveDispute", *args)

    def build_settle(self, sender: str, shipment_id: bytes | str) -> TxParams:
        """Unsigned settle (anyone, after the dispute window or an unresolved dispute's timeout)."""
        return self._build(sender, "settle", as_bytes32(shipment_id, "shipment_id"))

    def send_settle(self, signer: Signer, shipment_id: bytes | str) -> TxResult:
        """settle signed by `signer`."""
        return self._send(signer, "settle", as_bytes32(shipment_id, "shipment_id"))

    def build_refund(self, sender: str, shipment_id: bytes | str) -> TxParams:
        """Unsigned refund (anyone, after deadline + refund grace without attestation)."""
        return self._build(sender, "refund", as_bytes32(shipment_id, "shipment_id"))

    def send_refund(self, signer: Signer, shipment_id: bytes | str) -> TxResult:
        """refund signed by `signer`."""
        return self._send(signer, "refund", as_bytes32(shipment_id, "shipment_id"))

    def build_withdraw(self, sender: str, token: str = ZERO_ADDRESS) -> TxParams:
        """Unsigned withdraw of everything `sender` is owed in `token` (ETH by default)."""
        return self._build(sender, "withdraw", checksum(token, "token"))

    def send_withdraw(self, signer: Signer, token: str = ZERO_ADDRESS) -> TxResult:
        """withdraw signed by the owed account's key."""
        return self._send(signer, "withdraw", checksum(token, "token"))
