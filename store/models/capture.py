"""EPCIS capture: the capture jobs of POST /epcis/capture and who else captured a stored event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class CaptureJob(Base):
    """One capture request: its outcome and the problem of each event it could not store."""

    __tablename__ = "capture_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    running: Mapped[bool] = mapped_column(Boolean, nullable=False)
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
    error_behaviour: Mapped[str] = mapped_column(String(16), nullable=False)
    event_count: Mapped[int] = mapped_column(Integer, nullable=False)
    # [{"index": i, "pointer": "/eventTime", "message": "..."}]
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)


class EventCapturer(Base):
    """A principal who captured an event another principal had stored first (the first is the
    event's recorded_by)."""

    __tablename__ = "event_capturers"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
