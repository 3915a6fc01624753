"""The brand's content a viewer sees: the product's content in the viewer's language (else its
default language, else none: the page then names the product by its name), as plain values."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from api.content_language import choose_lang
from store.models import Product, ProductContent
from store.product_content import content_in, contents_of, default_lang


def data_uri(row: ProductContent) -> str | None:
    """The stored image as a data: URI (the page inlines it: one HTML request)."""
    if row.image is None or row.image_type is None:
        return None
    return f"data:{row.image_type};base64,{base64.b64encode(row.image).decode('ascii')}"


def contact_of(row: ProductContent) -> dict[str, str | None] | None:
    """The ways to reach the brand, or None when it gave none."""
    contact = {"url": row.contact_url, "email": row.contact_email, "phone": row.contact_phone}
    return contact if any(contact.values()) else None


def content_view(
    session: Session, product: Product, languages: Sequence[str]
) -> dict[str, Any] | None:
    """The content for a viewer reading `languages` (most preferred first), or None."""
    contents = contents_of(session, product.id)
    if not contents:
        return None
    lang = choose_lang([c.lang for c in contents], languages, default_lang(contents))
    row = content_in(session, product.id, lang) if lang is not None else None
    if row is None:
        return None
    return {
        "lang": row.lang,
        "name": row.name,
        "description": row.description,
        "image": data_uri(row),
        "imageWidth": row.image_width,
        "imageHeight": row.image_height,
        "contact": contact_of(row),
    }
