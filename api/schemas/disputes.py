"""Disputes: the escrow's dispute state, and the inputs of evidence and resolution transactions."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Address, ApiModel, SignatureHex
from api.schemas.eth_json import DecimalString, Uint63In, Uint256In


class EvidenceIn(ApiModel):
    """Which stored reading to put on record: the device and its sequence number."""

    device: Address
    # Stored readings' seqs fit a signed 64-bit column (the gateway refuses larger ones).
    seq: Uint63In


class ResolutionIn(ApiModel):
    """The arbiter's split: `payoutWei` of the deposit to the payee, the rest to the buyer."""

    payout_wei: Uint256In


class EvidencePublic(ApiModel):
    """A device-signed reading put on record in a dispute (an EvidenceSubmitted event)."""

    submitter: str
    reading_digest: str
    device: str
    seq: int
    taken_at_ms: int
    temperature_centi_c: int
    in_attested_evidence: bool = Field(
        description="Part of the evidence the oracle attested (v1 accepts only such readings; "
        "v2 also records a reading of the shipment's devices the oracle left out)"
    )
    tx_hash: str
    block_number: int


class DisputePublic(ApiModel):
    """The escrow's dispute state of a shipment as the chain follower has read it, with the
    times that bound each step."""

    state: str
    as_of_block: int = Field(
        description="The highest block the follower had read: state and evidence include "
        "every block up to it"
    )
    as_of_time: int | None = Field(description="Unix seconds: the timestamp of asOfBlock")
    arbiter: str | None
    evidence_root: str | None
    amount_wei: DecimalString
    payout_wei: DecimalString
    refund_wei: DecimalString
    dispute_window_ends_at: int | None = Field(
        description="Unix seconds: openDispute works before it (after attestation)"
    )
    disputed_at: int | None
    dispute_times_out_at: int | None = Field(
        description="Unix seconds: the arbiter resolves before it; then settle() applies the "
        "attestation's split"
    )
    evidence: list[EvidencePublic]


class MutualReleaseIn(ApiModel):
    """A split buyer and payee agree on (escrow v2 MutualRelease): `payoutWei` to the payee."""

    payout_wei: Uint256In


class MutualReleaseTxIn(MutualReleaseIn):
    """The split and both parties' signatures over MutualRelease(shipmentId, payoutWei)."""

    buyer_signature: SignatureHex
    payee_signature: SignatureHex
