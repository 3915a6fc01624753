"""Sensor devices: each has its own key, registered by a carrier with proof of possession."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import Address, ApiModel, SignatureHex


class DeviceBase(ApiModel):
    """A device's address (of its secp256k1 key) and a label."""

    address: Address
    label: str = Field(default="", max_length=200)


class DeviceCreate(DeviceBase):
    """Registration: `signature` is the device key's EIP-712 DeviceRegistration(device, operator).

    `operator` is the registering carrier's wallet; the domain is TraceAnchor's.
    """

    signature: SignatureHex


class DevicePublic(DeviceBase):
    """A device as its owner sees it."""

    owner_principal_id: int
    registered_at: datetime
    revoked_at: datetime | None
    active: bool
    last_acked_seq: int | None
