"""Location master data: a GLN or SGLN with a name, a coarse position and who registered it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class Location(Base):
    """One place, as its owner (the principal who registered it first) describes it."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A 13-digit GLN, or an SGLN EPC URI (urn:epc:id:sgln:...), as validated.
    location_id: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    gln: Mapped[str] = mapped_column(String(13), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # Hundredths of a degree (about 1 km): the server keeps no finer position.
    lat_centi: Mapped[int | None] = mapped_column(Integer)
    lon_centi: Mapped[int | None] = mapped_column(Integer)
    public: Mapped[bool] = mapped_column(Boolean, nullable=False)
    owner_principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
