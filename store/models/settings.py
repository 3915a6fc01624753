"""Small named state kept as JSON (deployment info, worker cursors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt
from store.models.types import UTCDateTime


class Setting(CreatedAt, Base):
    """One key and its JSON value."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
