"""A product's content per language: write one language, read them, choose the default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, undefer

from store.errors import StoreError
from store.models import ProductContent
from store.models.types import utcnow

# Languages one product may hold content in (each row holds up to a 60 KB image).
MAX_LANGUAGES = 40


class ContentLimitError(StoreError):
    """The product already has content in MAX_LANGUAGES languages."""


@dataclass(frozen=True)
class ContentImage:
    """An image as stored: re-encoded bytes, their media type and size in pixels."""

    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ContentFields:
    """What a brand writes for one language."""

    name: str
    description: str | None = None
    image: ContentImage | None = None
    contact_url: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


def contents_of(
    session: Session, product_id: int, with_images: bool = False
) -> list[ProductContent]:
    """Every language's content of a product, by language tag."""
    query = select(ProductContent).where(ProductContent.product_id == product_id)
    if with_images:
        query = query.options(undefer(ProductContent.image))
    return list(session.scalars(query.order_by(ProductContent.lang)))


def content_in(session: Session, product_id: int, lang: str) -> ProductContent | None:
    """The product's content in exactly `lang` (a normalised tag), with its image."""
    return session.scalar(
        select(ProductContent)
        .where(ProductContent.product_id == product_id, ProductContent.lang == lang)
        .options(undefer(ProductContent.image))
    )


def put_content(
    session: Session,
    product_id: int,
    lang: str,
    fields: ContentFields,
    by: int,
    make_default: bool,
) -> ProductContent:
    """Replace (or add) the content in `lang` (flushed, not committed). It becomes the default
    when `make_default`, or when the product has no default yet (its first content)."""
    row = content_in(session, product_id, lang)
    if row is None and len(contents_of(session, product_id)) >= MAX_LANGUAGES:
        raise ContentLimitError(f"a product has content in at most {MAX_LANGUAGES} languages")
    has_default = session.scalar(
        select(ProductContent.id).where(
            ProductContent.product_id == product_id, ProductContent.is_default
        )
    )
    make_default = make_default or has_default is None
    if make_default:
        # Unset the old default first: the partial unique index allows one at a time.
        session.execute(
            update(ProductContent)
            .where(
                ProductContent.product_id == product_id,
                ProductContent.is_default,
                ProductContent.lang != lang,
            )
            .values(is_default=False)
        )
    if row is None:
        row = ProductContent(product_id=product_id, lang=lang, is_default=False)
        session.add(row)
    if make_default:
        row.is_default = True
    image = fields.image
    row.name = fields.name
    row.description = fields.description
    row.image = image.data if image else None
    row.image_type = image.media_type if image else None
    row.image_width = image.width if image else None
    row.image_height = image.height if image else None
    row.contact_url = fields.contact_url
    row.contact_email = fields.contact_email
    row.contact_phone = fields.contact_phone
    row.updated_at = utcnow()
    row.updated_by = by
    session.flush()
    return row


def delete_content(session: Session, product_id: int, lang: str) -> bool:
    """Delete the content in `lang` (flushed); if it was the default, the oldest remaining
    language becomes the default. False when there was none."""
    row = content_in(session, product_id, lang)
    if row is None:
        return False
    was_default = row.is_default
    session.delete(row)
    session.flush()
    if was_default:
        heir = session.scalar(
            select(ProductContent)
            .where(ProductContent.product_id == product_id)
            .order_by(ProductContent.created_at, ProductContent.lang)
            .limit(1)
        )
        if heir is not None:
            heir.is_default = True
            session.flush()
    return True


def default_lang(contents: Sequence[ProductContent]) -> str | None:
    """The default content's language among `contents`, if one is the default."""
    return next((c.lang for c in contents if c.is_default), None)
