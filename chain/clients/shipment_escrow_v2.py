"""Typed client of ShipmentEscrow v2: fund with three signatures, attest with the terms, views.

The calls v2 shares with v1 (disputes, settle, refund, withdraw, roles, signing for later) are
EscrowClient's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from web3.types import BlockIdentifier, TxParams

from chain.clients.base import Signer, as_bytes32, checksum, struct_tuple
from chain.clients.escrow_base import EscrowClient, fund_value, signature_bytes, uint256
from chain.clients.types import ShipmentStateV2, ShipmentViewV2, TxResult
from chain.errors import ChainValueError
from chain.releases import ESCROW_V2
from core.eip712 import DeliveryAttestationV2, Domain, Reading, TermsV2, escrow_domain_v2

TermsV2Like = TermsV2 | Mapping[str, Any]


def _hashes(proof: Sequence[bytes | str], what: str) -> list[bytes]:
    if isinstance(proof, bytes | str):
        raise ChainValueError(f"{what} must be a sequence of 32-byte hashes")
    return [as_bytes32(p, f"{what}[{i}]") for i, p in enumerate(proof)]


AttestationV2Like = DeliveryAttestationV2 | Mapping[str, Any]


class ShipmentEscrowV2Client(EscrowClient):
    """ShipmentEscrow v2 at one address; terms and attestations as core.eip712 v2 types."""

    release = ESCROW_V2

    def domain(self) -> Domain:
        """The EIP-712 domain of this deployment (version "2")."""
        return escrow_domain_v2(self.chain_id(), self.address)

    def guardian_role(self) -> bytes:
        """GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE")."""
        return bytes(self._constant("GUARDIAN_ROLE"))

    # -- reads --

    def shipment(
        self, shipment_id: bytes | str, block: BlockIdentifier = "latest"
    ) -> ShipmentViewV2:
        """The stored record of a shipment (state NONE and zeros if unknown)."""
        f = self._call("shipment", as_bytes32(shipment_id, "shipment_id"), block=block)
        return ShipmentViewV2(
            terms_hash=bytes(f[0]),
            buyer=checksum(f[1]),
            funded_at=int(f[2]),
            state=ShipmentStateV2(int(f[3])),
            payee=checksum(f[4]),
            deadline=int(f[5]),
            carrier=checksum(f[6]),
            refund_grace=int(f[7]),
            token=checksum(f[8]),
            dispute_window=int(f[9]),
            arbiter=checksum(f[10]),
            dispute_timeout=int(f[11]),
            oracle=checksum(f[12]),
            oracle_suspended_at_fund=int(f[13]),
            amount=int(f[14]),
            devices_root=bytes(f[15]),
            evidence_root=bytes(f[16]),
            attested_at=int(f[17]),
            disputed_at=int(f[18]),
            window_start=int(f[19]),
            delivered_at=int(f[20]),
            payout=int(f[21]),
            refund=int(f[22]),
        )

    def attestation_deadline(self, shipment_id: bytes | str) -> int:
        """The last second an attestation is accepted (deadline + refund grace + suspension)."""
        return int(self._call("attestationDeadline", as_bytes32(shipment_id, "shipment_id")))

    def is_oracle_paused(self, oracle: str) -> bool:
        """Whether a guardian paused `oracle`."""
        return bool(self._call("isOraclePaused", checksum(oracle, "oracle")))

    def hash_terms(self, terms: TermsV2Like) -> bytes:
        """EIP-712 struct hash of the terms (the attestation's termsHash)."""
        return bytes(self._call("hashTerms", self._terms(terms)))

    def _terms(self, terms: TermsV2Like) -> tuple[Any, ...]:
        return struct_tuple(self._components("fund"), terms)

    def _attestation(self, attestation: AttestationV2Like) -> tuple[Any, ...]:
        return struct_tuple(self._components("attest", 1), attestation)

    # -- writes --

    def _fund_args(
        self, terms: TermsV2Like, buyer_sig: bytes, payee_sig: bytes, carrier_sig: bytes
    ) -> tuple[Any, ...]:
        return (
            self._terms(terms),
            signature_bytes(buyer_sig, "buyer_sig"),
            signature_bytes(payee_sig, "payee_sig"),
            signature_bytes(carrier_sig, "carrier_sig"),
        )

    def build_fund(
        self, terms: TermsV2Like, buyer_sig: bytes, payee_sig: bytes, carrier_sig: bytes
    ) -> TxParams:
        """Unsigned fund from the terms' buyer (value = the amount for ETH, else 0)."""
        args = self._fund_args(terms, buyer_sig, payee_sig, carrier_sig)
        value = fund_value(args[0][4], args[0][5])
        return self._build(args[0][1], "fund", *args, value=value)

    def send_fund(
        self,
        signer: Signer,
        terms: TermsV2Like,
        buyer_sig: bytes,
        payee_sig: bytes,
        carrier_sig: bytes,
    ) -> TxResult:
        """fund signed by the buyer's key (sending the amount for ETH; tokens need approval)."""
        args = self._fund_args(terms, buyer_sig, payee_sig, carrier_sig)
        return self._send(signer, "fund", *args, value=fund_value(args[0][4], args[0][5]))

    def send_attest(
        self,
        signer: Signer,
        terms: TermsV2Like,
        attestation: AttestationV2Like,
        oracle_sig: bytes,
    ) -> TxResult:
        """attest submitted by `signer` (anyone may submit the oracle's signed attestation)."""
        args = (self._terms(terms), self._attestation(attestation))
        return self._send(signer, "attest", *args, signature_bytes(oracle_sig, "oracle_sig"))

    def sign_attest(
        self,
        account: LocalAccount,
        terms: TermsV2Like,
        attestation: AttestationV2Like,
        oracle_sig: bytes,
        nonce: int,
    ) -> SignedTransaction:
        """attest signed by `account` at `nonce` with the market's fees, not sent."""
        sig = signature_bytes(oracle_sig, "oracle_sig")
        return self._sign(
            account, nonce, "attest", self._terms(terms), self._attestation(attestation), sig
        )

    def build_submit_evidence(
        self,
        sender: str,
        shipment_id: bytes | str,
        reading: Reading | Mapping[str, Any],
        signature: bytes,
        device_proof: Sequence[bytes | str],
        evidence_proof: Sequence[bytes | str],
    ) -> TxParams:
        """Unsigned submitEvidence v2: a reading of a device proven in devicesRoot; with a proof
        to the attested evidence root if it is part of it (else an empty one)."""
        components = self._components("submitEvidence", 1)
        return self._build(
            sender,
            "submitEvidence",
            as_bytes32(shipment_id, "shipment_id"),
            struct_tuple(components, reading),
            signature_bytes(signature, "signature"),
            _hashes(device_proof, "device_proof"),
            _hashes(evidence_proof, "evidence_proof"),
        )

    def build_mutual_release(
        self,
        sender: str,
        shipment_id: bytes | str,
        payout: int,
        buyer_sig: bytes,
        payee_sig: bytes,
    ) -> TxParams:
        """Unsigned mutualRelease (anyone may submit both parties' signatures)."""
        return self._build(
            sender, "mutualRelease", *self._release_args(shipment_id, payout, buyer_sig, payee_sig)
        )

    def _release_args(
        self, shipment_id: bytes | str, payout: int, buyer_sig: bytes, payee_sig: bytes
    ) -> tuple[Any, ...]:
        return (
            as_bytes32(shipment_id, "shipment_id"),
            uint256(payout, "payout"),
            signature_bytes(buyer_sig, "buyer_sig"),
            signature_bytes(payee_sig, "payee_sig"),
        )

    def send_mutual_release(
        self,
        signer: Signer,
        shipment_id: bytes | str,
        payout: int,
        buyer_sig: bytes,
        payee_sig: bytes,
    ) -> TxResult:
        """mutualRelease: the payout buyer and payee both signed (anyone may submit it)."""
        return self._send(
            signer, "mutualRelease", *self._release_args(shipment_id, payout, buyer_sig, payee_sig)
        )

    def send_set_oracle_paused(self, signer: Signer, oracle: str, paused: bool) -> TxResult:
        """setOraclePaused signed by a guardian's key."""
        return self._send(signer, "setOraclePaused", checksum(oracle, "oracle"), bool(paused))
