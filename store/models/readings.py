"""Signed sensor readings, one row per (device, seq)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class Reading(Base):
    """A reading as the device signed it (EIP-712 Reading fields) plus where it was filed."""

    __tablename__ = "readings"
    __table_args__ = (
        # The uniqueness that makes ingestion idempotent: a device never reuses a seq.
        UniqueConstraint("device_address", "seq"),
        Index("ix_readings_shipment_id_taken_at_ms", "shipment_id", "taken_at_ms"),
        Index("ix_readings_device_address_taken_at_ms", "device_address", "taken_at_ms"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_address: Mapped[str] = mapped_column(String(42), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    taken_at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    temperature_centi_c: Mapped[int] = mapped_column(Integer, nullable=False)
    humidity_centi_pct: Mapped[int] = mapped_column(BigInteger, nullable=False)
    shock_milli_g: Mapped[int] = mapped_column(BigInteger, nullable=False)
    lat_e7: Mapped[int] = mapped_column(Integer, nullable=False)
    lon_e7: Mapped[int] = mapped_column(Integer, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65), nullable=False)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    # Doubles as created_at: the row is written when the gateway receives it.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
