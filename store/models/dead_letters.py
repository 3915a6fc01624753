"""Messages the gateway could not store as readings, kept with the reason (never dropped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base
from store.models.types import UTCDateTime, utcnow


class DeadLetter(Base):
    """One rejected message: its topic, the first bytes of its payload, why, and when."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_dead_letters_reason_received_at", "reason", "received_at"),
        # The count purge (store.dead_letters.trim_dead_letters) keeps the newest ids per reason.
        Index("ix_dead_letters_reason_id", "reason", "id"),
        Index("ix_dead_letters_device_address_seq", "device_address", "seq"),
        # The retention purge (store.dead_letters.purge_dead_letters) deletes by age.
        Index("ix_dead_letters_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(256), nullable=False)
    # Capped (store.dead_letters.MAX_PAYLOAD_BYTES) and the rows purged by age and count per
    # reason (the gateway's GATEWAY_DEAD_LETTER_*): a flood of junk cannot fill the disk.
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    payload_size: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    # Known when the payload named a device (or the topic did); None for unreadable bytes.
    device_address: Mapped[str | None] = mapped_column(String(42))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
