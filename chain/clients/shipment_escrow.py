"""Typed client of ShipmentEscrow: fund, attest, settle, refund, withdraw, views and digests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from web3.types import BlockIdentifier, TxParams

from chain.clients.base import ContractClient, Signer, as_bytes32, checksum, struct_tuple
from chain.clients.types import ShipmentState, ShipmentView, TxResult
from chain.errors import ChainValueError
from core.eip712 import DeliveryAttestation, Domain, Terms, escrow_domain

TermsLike = Terms | Mapping[str, Any]
AttestationLike = DeliveryAttestation | Mapping[str, Any]


def _signature(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise ChainValueError(f"{what} must be bytes")
    return bytes(value)


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
            amount=int(f[7]),
            dispute_window=int(f[8]),
            attested_at=int(f[9]),
            state=ShipmentState(int(f[10])),
            payout=int(f[11]),
            refund=int(f[12]),
        )

    def owed(self, account: str, block: BlockIdentifier = "latest") -> int:
        """Wei credited to `account` and not yet withdrawn."""
        return int(self._call("owed", checksum(account, "account"), block=block))

    def hash_terms(self, terms: TermsLike) -> bytes:
        """EIP-712 struct hash of the terms (the attestations' termsHash)."""
        return bytes(self._call("hashTerms", self._terms(terms)))

    def terms_digest(self, terms: TermsLike) -> bytes:
        """The EIP-712 digest buyer and payee sign."""
        return bytes(self._call("termsDigest", self._terms(terms)))

    def attestation_digest(self, attestation: AttestationLike) -> bytes:
        """The EIP-712 digest the oracle signs."""
        return bytes(self._call("attestationDigest", self._attestation(attestation)))

    def _terms(self, terms: TermsLike) -> tuple[Any, ...]:
        return struct_tuple(self._components("fund"), terms)

    def _attestation(self, attestation: AttestationLike) -> tuple[Any, ...]:
        return struct_tuple(self._components("attest"), attestation)

    # -- writes: build_* for users' wallets, send_* for local keys --

    def build_fund(self, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes) -> TxParams:
        """Unsigned fund from the terms' buyer, with value = terms' amount."""
        args = self._fund_args(terms, buyer_sig, payee_sig)
        return self._build(args[0][1], "fund", *args, value=int(args[0][4]))

    def send_fund(
        self, signer: Signer, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes
    ) -> TxResult:
        """fund signed by the buyer's key, sending the terms' amount."""
        args = self._fund_args(terms, buyer_sig, payee_sig)
        return self._send(signer, "fund", *args, value=int(args[0][4]))

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

    def build_settle(self, sender: str, shipment_id: bytes) -> TxParams:
        """Unsigned settle (anyone, after the dispute window)."""
        return self._build(sender, "settle", as_bytes32(shipment_id, "shipment_id"))

    def send_settle(self, signer: Signer, shipment_id: bytes) -> TxResult:
        """settle signed by `signer`."""
        return self._send(signer, "settle", as_bytes32(shipment_id, "shipment_id"))

    def build_refund(self, sender: str, shipment_id: bytes) -> TxParams:
        """Unsigned refund (anyone, after deadline + refund grace without attestation)."""
        return self._build(sender, "refund", as_bytes32(shipment_id, "shipment_id"))

    def send_refund(self, signer: Signer, shipment_id: bytes) -> TxResult:
        """refund signed by `signer`."""
        return self._send(signer, "refund", as_bytes32(shipment_id, "shipment_id"))

    def build_withdraw(self, sender: str) -> TxParams:
        """Unsigned withdraw of everything `sender` is owed."""
        return self._build(sender, "withdraw")

    def send_withdraw(self, signer: Signer) -> TxResult:
        """withdraw signed by the owed account's key."""
        return self._send(signer, "withdraw")
