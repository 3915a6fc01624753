"""What operators did: the append-only log of admin actions, and erasures of events' personal
data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class AdminLogEntry(Base):
    """One admin action, written in the transaction of the action itself; never updated or
    deleted (a trigger refuses both, on SQLite and PostgreSQL)."""

    __tablename__ = "admin_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    # The admin principal acting through the API; None for the CLI (run on the store itself).
    actor_principal_id: Mapped[int | None] = mapped_column(ForeignKey("principals.id"))
    # Who, readable: "principal 3 (ops)" or "cli:alice@host".
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    via: Mapped[str] = mapped_column(String(8), nullable=False)  # "api" or "cli"
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(200), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class EventErasure(Base):
    """An event whose personal data was erased: its salt and JSON are gone (the leaf hash, the
    root on chain and every other event's proof stay)."""

    __tablename__ = "event_erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), unique=True, nullable=False)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    erased_by: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
