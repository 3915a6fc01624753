"""Typed client of ShipmentEscrow v1: fund, attest, evidence, views (the rest: EscrowClient)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from web3.types import BlockIdentifier, TxParams

from chain.clients.base import Signer, as_bytes32, checksum, struct_tuple
from chain.clients.escrow_base import EscrowClient, fund_value, signature_bytes
from chain.clients.types import ShipmentState, ShipmentView, TxResult
from chain.errors import ChainValueError
from chain.releases import ESCROW_V1
from core.eip712 import DeliveryAttestation, Domain, Reading, Terms, escrow_domain

TermsLike = Terms | Mapping[str, Any]
AttestationLike = DeliveryAttestation | Mapping[str, Any]
ReadingLike = Reading | Mapping[str, Any]


class ShipmentEscrowClient(EscrowClient):
    """ShipmentEscrow v1 at one address; terms and attestations as core.eip712 types or mappings."""

    release = ESCROW_V1

    def domain(self) -> Domain:
        """The EIP-712 domain of this deployment (Terms, DeliveryAttestation)."""
        return escrow_domain(self.chain_id(), self.address)

    def terms_typehash(self) -> bytes:
        """TERMS_TYPEHASH."""
        return bytes(self._constant("TERMS_TYPEHASH"))

    def attestation_typehash(self) -> bytes:
        """ATTESTATION_TYPEHASH."""
        return bytes(self._constant("ATTESTATION_TYPEHASH"))

    def evidence_v1(self) -> bytes:
        """EVIDENCE_V1 = keccak256("chaintrace.evidence.v1")."""
        return bytes(self._constant("EVIDENCE_V1"))

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

    def build_fund(self, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes) -> TxParams:
        """Unsigned fund from the terms' buyer, with value = the amount for ETH, else 0."""
        args = self._fund_args(terms, buyer_sig, payee_sig)
        return self._build(args[0][1], "fund", *args, value=fund_value(args[0][3], args[0][4]))

    def send_fund(
        self, signer: Signer, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes
    ) -> TxResult:
        """fund signed by the buyer's key (sending the amount for ETH; tokens need approval)."""
        args = self._fund_args(terms, buyer_sig, payee_sig)
        return self._send(signer, "fund", *args, value=fund_value(args[0][3], args[0][4]))

    def _fund_args(self, terms: TermsLike, buyer_sig: bytes, payee_sig: bytes) -> tuple[Any, ...]:
        return (
            self._terms(terms),
            signature_bytes(buyer_sig, "buyer_sig"),
            signature_bytes(payee_sig, "payee_sig"),
        )

    def build_attest(
        self, sender: str, attestation: AttestationLike, oracle_sig: bytes
    ) -> TxParams:
        """Unsigned attest (anyone may submit the oracle's signed attestation)."""
        att = self._attestation(attestation)
        return self._build(sender, "attest", att, signature_bytes(oracle_sig, "oracle_sig"))

    def send_attest(
        self, signer: Signer, attestation: AttestationLike, oracle_sig: bytes
    ) -> TxResult:
        """attest submitted by `signer` (the settlement worker uses the oracle key)."""
        att = self._attestation(attestation)
        return self._send(signer, "attest", att, signature_bytes(oracle_sig, "oracle_sig"))

    def sign_attest(
        self, account: LocalAccount, attestation: AttestationLike, oracle_sig: bytes, nonce: int
    ) -> SignedTransaction:
        """attest signed by `account` at `nonce` with the market's fees, not sent."""
        att = self._attestation(attestation)
        return self._sign(account, nonce, "attest", att, signature_bytes(oracle_sig, "oracle_sig"))

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
            signature_bytes(signature, "signature"),
            [as_bytes32(p, f"proof[{i}]") for i, p in enumerate(proof)],
        )
