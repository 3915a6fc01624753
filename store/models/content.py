"""A brand's content for one of its products, per language: what the item page shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt
from store.models.types import UTCDateTime, utcnow

# Bounds the store keeps whatever writes to it (the API checks the same, with its own messages).
LANG_MAX_LEN = 35
NAME_MAX_LEN = 200
DESCRIPTION_MAX_LEN = 2000
IMAGE_MAX_BYTES = 60 * 1024
MEDIA_TYPE_MAX_LEN = 20
CONTACT_URL_MAX_LEN = 500
CONTACT_EMAIL_MAX_LEN = 254
CONTACT_PHONE_MAX_LEN = 16


class ProductContent(CreatedAt, Base):
    """One language's name, description, image and contact for a product; at most one row of a
    product is its default (shown when none of the viewer's languages has content)."""

    __tablename__ = "product_contents"
    __table_args__ = (
        UniqueConstraint("product_id", "lang"),
        # One default per product, on SQLite and PostgreSQL alike (a partial unique index).
        Index(
            "uq_product_contents_default",
            "product_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
        CheckConstraint("(image IS NULL) = (image_type IS NULL)", name="image_has_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), nullable=False
    )
    # A normalised BCP 47 tag (api/content_language.py): "en", "en-GB", "zh-Hans".
    lang: Mapped[str] = mapped_column(String(LANG_MAX_LEN), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LEN), nullable=False)
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX_LEN))
    # The re-encoded image (never the upload itself: no metadata, bounded size), deferred so a
    # listing does not read it.
    image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    image_type: Mapped[str | None] = mapped_column(String(MEDIA_TYPE_MAX_LEN))
    image_width: Mapped[int | None] = mapped_column(Integer)
    image_height: Mapped[int | None] = mapped_column(Integer)
    contact_url: Mapped[str | None] = mapped_column(String(CONTACT_URL_MAX_LEN))
    contact_email: Mapped[str | None] = mapped_column(String(CONTACT_EMAIL_MAX_LEN))
    contact_phone: Mapped[str | None] = mapped_column(String(CONTACT_PHONE_MAX_LEN))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_by: Mapped[int] = mapped_column(ForeignKey("principals.id"), nullable=False)
