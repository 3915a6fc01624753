"""EPCIS named queries, their webhook subscriptions and the subscriptions' delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class NamedQuery(Base):
    """A principal's named SimpleEventQuery: its parameters as the binding's `query` object."""

    __tablename__ = "epcis_named_queries"
    __table_args__ = (UniqueConstraint("principal_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    # {"eventType": ["ObjectEvent"], "GE_eventTime": "...", ...} as validated at creation
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Subscription(Base):
    """A webhook subscription to a named query: where to POST, the HMAC secret, when it runs
    (`stream`: as events are recorded; else its `schedule`, next at `next_run_at`), and how far
    it has read the events (`cursor_event_id`: every id up to it is matched)."""

    __tablename__ = "epcis_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    query_id: Mapped[int] = mapped_column(
        ForeignKey("epcis_named_queries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), nullable=False)
    dest: Mapped[str] = mapped_column(String(2048), nullable=False)
    signature_token: Mapped[str | None] = mapped_column(String(512))
    report_if_empty: Mapped[bool] = mapped_column(Boolean, nullable=False)
    stream: Mapped[bool] = mapped_column(Boolean, nullable=False)
    schedule: Mapped[dict[str, str] | None] = mapped_column(JSON)  # the binding's object
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    initial_record_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    cursor_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One EPCISQueryDocument to POST to a subscription's dest: the events it carries (ids, in
    order), its stable id, and its attempts. Pending while `delivered_at` is null; a worker
    holds it while `leased_until` is in the future."""

    __tablename__ = "epcis_deliveries"
    __table_args__ = (
        Index(None, "subscription_id", "delivered_at", "id"),
        Index(None, "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("epcis_subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    event_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
