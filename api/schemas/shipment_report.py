"""The escrow v2 shipment report as its parties see it (core.shipment_report)."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import ApiModel
from api.schemas.eth_json import DecimalString


class DeviceReportPublic(ApiModel):
    """One device of the shipment's set over the window."""

    device: str
    readings_in_window: int
    excursion_minutes: int
    counted_ms_by_kind: dict[str, int] = Field(
        description="Milliseconds counted against the SLA: band (temperature or humidity), "
        "gap (no reading for longer than maxGapMinutes, a silent device's whole window), "
        "missing (sequence numbers skipped)"
    )
    missing_seqs: int
    shocks: int


class ShipmentReportPublic(ApiModel):
    """What the oracle attests, computed now by the same function it uses (core)."""

    as_of: int = Field(description="Unix seconds (the chain's clock) the report is computed at")
    window_start: int
    window_end: int = Field(description="deliveredAt, or asOf while not delivered")
    delivered_at: int | None
    delivery_basis: str | None = Field(description="receiving or arrival")
    rejected: bool
    arrival_at: int | None = Field(description="Unix seconds: every device in the fence from")
    attestable_at: int | None = Field(
        description="Unix seconds from which the escrow accepts the attestation"
    )
    may_attest: bool
    excursion_minutes: int
    shock_count: int
    penalty_bps: int | None = Field(description="Capped penalty if attested at deliveredAt")
    payout_wei: DecimalString | None
    refund_wei: DecimalString | None
    evidence_root: str
    evidence_readings: int
    readings_ignored: int
    devices: list[DeviceReportPublic]
