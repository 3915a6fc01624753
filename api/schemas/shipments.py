"""Shipments: items, the carrier and its devices, and the SLA terms both parties sign."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from api.schemas.common import (
    INT64_MAX,
    Address,
    ApiModel,
    EthTx,
    Gtin,
    Serial,
    TypedData,
    UnsignedTx,
)
from api.schemas.eth_json import (
    DecimalString,
    PositiveUint64In,
    PositiveUint256In,
    Uint64In,
)

ETH = "0x0000000000000000000000000000000000000000"
_INT32 = 2**31
_UINT32 = 2**32


class TermsIn(ApiModel):
    """The SLA: temperature band, penalties, time limits and the amount held in escrow."""

    token: Address = Field(
        default=ETH, description="ERC-20 on the escrow's allowlist, or the zero address for ETH"
    )
    amount_wei: PositiveUint256In = Field(
        description="Deposit in the token's smallest unit (wei for ETH)"
    )
    min_temp_centi_c: int = Field(ge=-_INT32, lt=_INT32, description="Band floor, 0.01 degC")
    max_temp_centi_c: int = Field(ge=-_INT32, lt=_INT32, description="Band ceiling, 0.01 degC")
    grace_minutes: int = Field(default=0, ge=0, lt=_UINT32)
    penalty_bps_per_minute: int = Field(ge=0, lt=_UINT32)
    penalty_cap_bps: int = Field(ge=0, le=10_000)
    max_gap_minutes: int = Field(ge=0, lt=_UINT32)
    deadline: PositiveUint64In = Field(description="Unix seconds: latest delivery")
    refund_grace: Uint64In = Field(description="Seconds after the deadline")
    dispute_window: Uint64In = Field(description="Seconds after attestation")
    arbiter: Address = "0x0000000000000000000000000000000000000000"
    dispute_timeout: Uint64In = 0

    @model_validator(mode="after")
    def _band(self) -> TermsIn:
        if self.min_temp_centi_c > self.max_temp_centi_c:
            raise ValueError("minTempCentiC must not exceed maxTempCentiC")
        return self


class EscrowV2TermsIn(ApiModel):
    """What Terms v2 adds to the terms (docs/formats.md); given, the shipment uses ShipmentEscrow
    v2: buyer, payee and carrier sign, and delivery is the receiving or the devices' arrival in
    `destinationGeofence` (then required, radius 100 m to 50 km)."""

    oracle: Address = Field(description="The oracle that attests (holds ORACLE_ROLE on v2)")
    fund_by: PositiveUint64In = Field(description="Unix seconds: funding refused after it")
    min_humidity_centi_pct: int = Field(default=0, ge=0, le=10_000, description="0: off")
    max_humidity_centi_pct: int = Field(default=0, ge=0, le=10_000, description="0: off")
    max_shock_milli_g: int = Field(default=0, ge=0, lt=_UINT32, description="0: off")
    penalty_bps_per_shock: int = Field(default=0, ge=0, lt=_UINT32)
    penalty_bps_per_late_hour: int = Field(default=0, ge=0, lt=_UINT32)
    arrival_dwell_minutes: int = Field(default=20, ge=0, lt=_UINT32)
    auto_accept_after: Uint64In = Field(
        default=0, description="Seconds after arrival + dwell; 0 off, else >= 1 h"
    )

    @model_validator(mode="after")
    def _bands(self) -> EscrowV2TermsIn:
        if (self.min_humidity_centi_pct or self.max_humidity_centi_pct) and (
            self.min_humidity_centi_pct > self.max_humidity_centi_pct
        ):
            raise ValueError("minHumidityCentiPct must not exceed maxHumidityCentiPct")
        if 0 < self.auto_accept_after < 3_600:
            raise ValueError("autoAcceptAfter must be 0 (off) or at least 3600 s")
        return self


class ItemRef(ApiModel):
    """An item by GTIN and serial."""

    gtin: str
    serial: str


class ItemRefIn(ItemRef):
    """An item named in a request: the GTIN (any length, as 14 digits) and serial checked."""

    gtin: Gtin
    serial: Serial


class Geofence(ApiModel):
    """The destination area: arrival GPS readings inside it count as delivery evidence."""

    lat_e7: int = Field(ge=-900_000_000, le=900_000_000)
    lon_e7: int = Field(ge=-1_800_000_000, le=1_800_000_000)
    radius_m: int = Field(gt=0, le=20_000_000)


class ShipmentCreate(ApiModel):
    """A buyer's shipment: who carries what, watched by which devices, under which terms."""

    carrier: int = Field(ge=1, le=INT64_MAX, description="Principal id of the carrier")
    payee: Address = Field(description="Who is paid on delivery (usually the carrier's wallet)")
    items: list[ItemRefIn] = Field(min_length=1, max_length=10_000)
    devices: list[Address] = Field(default_factory=list, max_length=100)
    origin: str = Field(default="", max_length=200)
    destination: str = Field(default="", max_length=200)
    destination_geofence: Geofence | None = None
    terms: TermsIn
    escrow_v2: EscrowV2TermsIn | None = Field(
        default=None, description="Terms v2's further fields: the shipment then uses escrow v2"
    )


class ShipmentCreated(ApiModel):
    """The new shipment and the Terms typed data buyer and payee both sign."""

    shipment_id: str
    terms_hash: str
    typed_data: TypedData


class PartyPublic(ApiModel):
    """A principal named on a shipment."""

    id: int
    name: str
    wallet_address: str | None


class EscrowPublic(ApiModel):
    """The escrow's record of the shipment as the platform's chain follower has read it."""

    state: str = Field(
        description="none (no deposit seen up to asOfBlock), funded, attested, disputed, "
        "resolved, settled or refunded"
    )
    as_of_block: int = Field(
        description="The highest block the follower had read: the state includes every block "
        "up to it (a reorg the follower has not seen yet may still change it)"
    )
    as_of_time: int | None = Field(description="Unix seconds: the timestamp of asOfBlock")
    changed_at_block: int | None = Field(description="The block of the state's last change")
    tx_hash: str | None = Field(description="The transaction of the state's last change")
    terms_hash_matches: bool
    amount_wei: DecimalString
    payout_wei: DecimalString
    refund_wei: DecimalString
    attested_at: int | None
    dispute_ends_at: int | None
    refundable_at: int | None


class ShipmentPublic(ApiModel):
    """A shipment as its parties see it."""

    shipment_id: str
    escrow_version: int = Field(description="1: Terms v1 on ShipmentEscrow v1; 2: escrow v2")
    status: str
    carrier: PartyPublic
    consignee: PartyPublic
    buyer_address: str
    payee_address: str
    origin: str
    destination: str
    items: list[ItemRef]
    devices: list[str]
    container: str | None = Field(
        description="The container (logistic unit) EPC the items are packed into at shipping "
        "(a random urn:uuid); the shipment's sensor events name it instead of every item. "
        "Null for a shipment created before containers"
    )
    terms: dict[str, Any]
    terms_hash: str
    signatures: dict[str, bool]
    custody_complete: bool = Field(
        description="Every listed item is held by the buyer or the carrier, or its custodian "
        "(the brand, or the item's last consignee) approved: funding waits for it"
    )
    created_at: datetime
    fund_tx_hash: str | None
    excursion_minutes: int | None
    payout_wei: DecimalString | None
    refund_wei: DecimalString | None
    escrow: EscrowPublic | None = Field(
        default=None, description="Null until the platform's chain follower has read a block"
    )


class FundingTx(ApiModel):
    """The buyer's funding, in order: for a token first `approval` (once mined, ask again), then
    `tx` (ShipmentEscrow.fund); `tx` is null while the escrow's allowance is short."""

    description: str
    tx: EthTx | None
    approval: UnsignedTx | None = None


class WithdrawTx(UnsignedTx):
    """The withdraw transaction and what it pays out."""

    owed_wei: DecimalString = Field(description="What the escrow credits the wallet, in wei")


class CustodyRequest(ApiModel):
    """A shipment asking the caller's consent for the items it holds."""

    shipment_id: str
    buyer: str = Field(description="The buyer's (consignee's) name")
    carrier: str = Field(description="The carrier's name")
    items: list[ItemRef] = Field(description="The caller's items listed in it")
    fund_by: int | None = Field(description="Unix seconds: unfunded after it, it lapses")


class CustodyApproved(ApiModel):
    """The items of the shipment the caller holds and has now approved for it."""

    items: list[ItemRef]
    custody_complete: bool = Field(description="Every listed item's custodian has consented")


class SignatureAccepted(ApiModel):
    """Whose signature was accepted and which are still missing."""

    signer: str
    role: str
    signatures: dict[str, bool]
    ready_to_fund: bool
