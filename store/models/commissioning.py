"""Commissioning drafts: the events and salts a brand is asked to sign, kept until it signs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt


class CommissioningDraft(CreatedAt, Base):
    """One draft (its JSON as the API built it); created_at bounds how long it may be signed."""

    __tablename__ = "commissioning_drafts"

    # A uuid4 in hex, handed to the brand.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    # "awaiting_signature" until the brand signs, then "submitted" (the API's vocabulary).
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
