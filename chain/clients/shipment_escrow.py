"""Typed client of ShipmentEscrow: fund, attest, disputes, settle, refund, withdraw, views.

The oracle's two calls can also be signed without being sent (sign_attest, sign_settle) and
sent later (send_signed): the settlement worker stores each signed transaction before sending it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, cast

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound
from web3.types import BlockIdentifier, TxParams, Wei

from chain.clients.base import ContractClient, Signer, as_bytes32, checksum, struct_tuple
from chain.clients.types import ZERO_ADDRESS, ShipmentState, ShipmentView, TxResult
from chain.errors import ChainError, ChainValueError, TransactionFailed
from chain.transactions import (
    chain_errors,
    estimate_gas,
    fee_fields,
    signed_fields,
    unsigned_transaction,
)
from core.eip712 import DeliveryAttestation, Domain, Reading, Terms, escrow_domain

TermsLike = Terms | Mapping[str, Any]
AttestationLike = DeliveryAttestation | Mapping[str, Any]
ReadingLike = Reading | Mapping[str, Any]

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


def _signature(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise ChainValueError(f"{what} must be bytes")
    return bytes(value)


def _uint256(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise ChainValueError(f"{what} must be an integer in [0, 2**256)")
    return value


class ShipmentEscrowClient(ContractClient):
    """ShipmentEscrow at one address; terms and attestations as core.eip712 types or mappings."""

    artifact_name = "ShipmentEscrow"

    def domain(self) -> Domain:
        """The EIP-712 domain of this deployment (Terms, DeliveryAttestation)."""
        return escrow_domain(self.chain_id(), self.address)

    # -- constants --

    def oracle_role(self) -> bytes:
        """ORACLE_ROLE = keccak256("ORACLE_ROLE")."""
        return bytes(self._constant("ORACLE_ROLE"))

    def terms_typehash(self) -> bytes:
        """TERMS_TYPEHASH."""
        return bytes(self._constant("TERMS_TYPEHASH"))

    def attestation_typehash(self) -> bytes:
        """ATTESTATION_TYPEHASH."""
        return bytes(self._constant("ATTESTATION_TYPEHASH"))

    def evidence_v1(self) -> bytes:
        """EVIDENCE_V1 = keccak256("chaintrace.evidence.v1")."""
        return bytes(self._constant("EVIDENCE_V1"))

    def trace_anchor(self) -> str:
        """The TraceAnchor whose domain readings are signed in."""
        return checksum(self._constant("traceAnchor"))

    # -- reads --

    def shipment(self, shipment_id: bytes | str, block: BlockIdentifier = "latest") -> ShipmentView:
        """The stored record of a shipment (state NONE and zeros if unknown)."""
        f = self._call("shipment", as_bytes32(shipment_id, "shipment_id"), block=block)
        return ShipmentView(
            terms_hash=bytes(f[0]),
            buyer=checksum(f[1]),
            deadline=int(f[2]),
            penalty_bps_per_minute=int(f[3]),
            payee=checksum(f[4]),
            refund_grace=int(f[5]),
            penalty_cap_bps=int(f[6]),
            token=checksum(f[7]),
            dispute_window=int(f[8]),
            arbiter=checksum(f[9]),
            dispute_timeout=int(f[10]),
            amount=int(f[11]),
            attested_at=int(f[12]),
            disputed_at=int(f[13]),
            state=ShipmentState(int(f[14])),
            evidence_root=bytes(f[15]),
            payout=int(f[16]),
            refund=int(f[17]),
        )

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

    def hash_terms(self, terms: TermsLike) -> bytes:
        """EIP-712 struct hash of the terms (the attestations' termsHash)."""
        return bytes(self._call("hashTerms", self._terms(terms)))

    def terms_digest(self, terms: TermsLike) -> bytes:
        """The EIP-712 digest buyer and payee sign."""
        return bytes(self._call("termsDigest", self._terms(terms)))

    def attestation_digest(self, attestation: AttestationLike) -> bytes:
        """The EIP-712 digest the oracle signs."""
        return bytes(self._call("attestationDigest", self._attestation(attestation)))

    def evidence_leaf(self, reading_digest: bytes | str) -> bytes:
        """The contract's evidence leaf of a reading digest (core.evidence.evidence_leaf)."""
        return bytes(self._call("evidenceLeaf", as_bytes32(reading_digest, "reading_digest")))

    def _terms(self, terms: TermsLike) -> tuple[Any, ...]:
        return struct_tuple(self._components("fund"), terms)

    def _attestation(self, attestation: AttestationLike) -> tuple[Any, ...]:
        return struct_tuple(self._components("attest"), attestation)

    def _reading(self, reading: ReadingLike) -> tuple[Any, ...]:
        return struct_tuple(self._components("submitEvidence", 1), reading)

    # -- writes: build_* for users' wallets, send_* for local keys --

    def build_set_token_allowed(self, sender: str, token: str, allowed: bool) -> TxParams:
        """Unsigned setTokenAllowed (admin only)."""
        return self._build(sender, "setTokenAllowed", checksum(token, "token"), bool(allowed))

    def send_set_token_allowed(self, signer: Signer, token: str, allowed: bool) -> TxResult:
        """setTokenAllowed signed by the admin's key."""
        return self._send(signer, "setTokenAllowed", checksum(token, "token"), bool(allowed))

    def build_token_approval(self, sender: str, token: str, amount: int) -> TxParams:
        """Unsigned ERC-20 approve(escrow, amount): what a buyer signs before funding in a token."""
        erc20 = self.w3.eth.contract(address=checksum(token, "token"), abi=_ERC20_APPROVE_ABI)
        data = str(erc20.encode_abi("approve", [self.address, _uint256(amount, "amount")]))
        return unsigned_transaction(self.w3, sender, erc20.address, data, 0)

    def build_fund(self, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes) -> TxParams:
        """Unsigned fund from the terms' buyer, with value = the amount for ETH, else 0."""
        args = self._fund_args(terms, buyer_sig, payee_sig)
        return self._build(args[0][1], "fund", *args, value=_fund_value(args[0]))

    def send_fund(
        self, signer: Signer, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes
    ) -> TxResult:
        """fund signed by the buyer's key (sending the amount for ETH; tokens need approval)."""
        args = self._fund_args(terms, buyer_sig, payee_sig)
        return self._send(signer, "fund", *args, value=_fund_value(args[0]))

    def _fund_args(self, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes) -> tuple[Any, ...]:
        return (
            self._terms(terms),
            _signature(buyer_sig, "buyer_sig"),
            _signature(payee_sig, "payee_sig"),
        )

    def build_attest(
        self, sender: str, attestation: AttestationLike, oracle_sig: bytes
    ) -> TxParams:
        """Unsigned attest (anyone may submit the oracle's signed attestation)."""
        att = self._attestation(attestation)
        return self._build(sender, "attest", att, _signature(oracle_sig, "oracle_sig"))

    def send_attest(
        self, signer: Signer, attestation: AttestationLike, oracle_sig: bytes
    ) -> TxResult:
        """attest submitted by `signer` (the settlement worker uses the oracle key)."""
        att = self._attestation(attestation)
        return self._send(signer, "attest", att, _signature(oracle_sig, "oracle_sig"))

    def sign_attest(
        self, account: LocalAccount, attestation: AttestationLike, oracle_sig: bytes, nonce: int
    ) -> SignedTransaction:
        """attest signed by `account` at `nonce` with the market's fees, not sent."""
        att = self._attestation(attestation)
        return self._sign(account, nonce, "attest", att, _signature(oracle_sig, "oracle_sig"))

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
            "from": account.address, "to": self.address, "data": self._data(function, *args),
            "value": 0,
        }  # fmt: skip
        tx["gas"] = estimate_gas(self.w3, cast(TxParams, tx))
        tx.update(fee_fields(self.w3), chainId=self.chain_id(), nonce=nonce)
        return account.sign_transaction(tx)

    def send_signed(self, raw_tx: bytes, timeout: float) -> TxResult | None:
        """Send a signed tx and wait up to `timeout` s: None if still unmined; reverts raise."""
        try:
            with chain_errors():
                self.w3.eth.send_raw_transaction(raw_tx)
        except ChainError as exc:
            if "already known" not in str(exc).lower():  # the node holds it: wait for it
                raise
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
            "from": Account.recover_transaction(raw_tx), "to": checksum(fields["to"]),
            "data": bytes(fields["data"]), "value": Wei(int(fields.get("value", 0))),
            "gas": int(fields["gas"]),
        }  # fmt: skip
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

    def build_submit_evidence(
        self,
        sender: str,
        shipment_id: bytes | str,
        reading: ReadingLike,
        signature: bytes,
        proof: Sequence[bytes | str],
    ) -> TxParams:
        """Unsigned submitEvidence: a signed reading and its proof to the attested evidence root."""
        return self._build(
            sender, "submitEvidence", *self._evidence(shipment_id, reading, signature, proof)
        )

    def send_submit_evidence(
        self,
        signer: Signer,
        shipment_id: bytes | str,
        reading: ReadingLike,
        signature: bytes,
        proof: Sequence[bytes | str],
    ) -> TxResult:
        """submitEvidence signed by the buyer's or payee's key."""
        return self._send(
            signer, "submitEvidence", *self._evidence(shipment_id, reading, signature, proof)
        )

    def _evidence(
        self,
        shipment_id: bytes | str,
        reading: ReadingLike,
        signature: bytes,
        proof: Sequence[bytes | str],
    ) -> tuple[Any, ...]:
        if isinstance(proof, bytes | str):
            raise ChainValueError("proof must be a sequence of 32-byte hashes")
        return (
            as_bytes32(shipment_id, "shipment_id"),
            self._reading(reading),
            _signature(signature, "signature"),
            [as_bytes32(p, f"proof[{i}]") for i, p in enumerate(proof)],
        )

    def build_resolve_dispute(self, sender: str, shipment_id: bytes | str, payout: int) -> TxParams:
        """Unsigned resolveDispute: the arbiter's payout to the payee, the rest to the buyer."""
        args = (as_bytes32(shipment_id, "shipment_id"), _uint256(payout, "payout"))
        return self._build(sender, "resolveDispute", *args)

    def send_resolve_dispute(
        self, signer: Signer, shipment_id: bytes | str, payout: int
    ) -> TxResult:
        """resolveDispute signed by the arbiter's key."""
        args = (as_bytes32(shipment_id, "shipment_id"), _uint256(payout, "payout"))
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


def _fund_value(terms: tuple[Any, ...]) -> int:
    """msg.value of fund: the amount for ETH terms (token zero), nothing for a token."""
    token, amount = terms[3], terms[4]
    try:
        is_eth = int(str(token), 16) == 0
    except ValueError:
        raise ChainValueError(f"terms token is not an address: {str(token)[:50]!r}") from None
    return int(amount) if is_eth else 0
