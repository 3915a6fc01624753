"""Shipment events: a minimal body the API turns into EPCIS, or a full EPCIS 2.0 event."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import ApiModel, Uri


class Gps(ApiModel):
    """A position in decimal degrees (WGS 84)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class MinimalEventIn(ApiModel):
    """The short form: the API builds the ObjectEvent (epcList = the shipment's items)."""

    biz_step: Literal["shipping", "arriving", "receiving"]
    event_time: datetime | None = Field(default=None, description="Default: now")
    read_point: Uri | None = Field(default=None, description="A URI (e.g. an SGLN URN)")
    biz_location: Uri | None = Field(default=None, description="A URI (e.g. an SGLN URN)")
    gps: Gps | None = None


class EventRecorded(ApiModel):
    """The stored event: its id, canonical hash (ni URI) and the shipment's new status."""

    id: int
    event_hash: str
    kind: int
    biz_step: str
    event_time: str
    shipment_status: str
    finality: str


class ShipmentEventPublic(ApiModel):
    """An event of a shipment as its parties see it; once an admin erased its personal data,
    only its id, kind, finality and the erasure (its other columns are no evidence then)."""

    id: int
    event_hash: str | None = Field(
        description="ni:///sha-256;... (CBV 2.0); null once erased (it would confirm a guess)"
    )
    kind: int
    biz_step: str | None
    event_time: str | None = Field(description="null once erased")
    finality: str
    event: dict[str, object] | None = Field(
        description="The EPCIS event; null once an admin erased its personal data"
    )
    erased_at: datetime | None = Field(default=None, description="When its data was erased")
    erased_by: str | None = Field(default=None, description="Who erased it")
