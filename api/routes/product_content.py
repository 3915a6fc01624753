"""A brand's content for its products per language: name, description, image, contact."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.catalog import brand_of_principal
from api.content_image import ContentImageError, safe_image
from api.content_language import LANG_MAX_LEN, LANG_PATTERN, LanguageTagError, lang_tag
from api.content_view import contact_of, data_uri
from api.deps import BrandPrincipal, SessionDep
from api.errors import Conflict, FieldError, NotFound
from api.openapi_doc import errors
from api.schemas.common import Gtin
from api.schemas.product_content import (
    Contact,
    ContentImageOut,
    ContentPublic,
    ContentPut,
)
from store.models import Principal, Product, ProductContent
from store.product_content import (
    ContentFields,
    ContentLimitError,
    content_in,
    contents_of,
    delete_content,
    put_content,
)

router = APIRouter(prefix="/products/{gtin}/content", tags=["product content"])

Lang = Annotated[
    str,
    Path(
        max_length=LANG_MAX_LEN,
        pattern=LANG_PATTERN,
        description="BCP 47 language[-Script][-REGION], e.g. en, en-GB, zh-Hans",
    ),
]


def _own_product(session: Session, principal: Principal, gtin: str) -> Product:
    """The calling brand's product; 404 for another brand's GTIN as for a missing one."""
    brand = brand_of_principal(session, principal)
    product = session.scalar(select(Product).where(Product.gtin == gtin))
    if product is None or product.brand_id != brand.id:
        raise NotFound(f"no product with GTIN {gtin} among yours")
    return product


def _lang(value: str) -> str:
    try:
        return lang_tag(value)
    except LanguageTagError as exc:
        raise FieldError(["path", "lang"], str(exc)) from None


def content_public(gtin: str, row: ProductContent) -> ContentPublic:
    """The brand's view of one language's content."""
    image = None
    uri = data_uri(row)
    if uri is not None and row.image is not None:
        image = ContentImageOut(
            media_type=row.image_type or "",
            width=row.image_width or 0,
            height=row.image_height or 0,
            size=len(row.image),
            data_uri=uri,
        )
    contact = contact_of(row)
    return ContentPublic(
        gtin=gtin,
        lang=row.lang,
        is_default=row.is_default,
        name=row.name,
        description=row.description,
        image=image,
        contact=Contact(**contact) if contact else None,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


@router.put("/{lang}", response_model=ContentPublic, responses=errors(404, 409))
def put(
    gtin: Gtin, lang: Lang, body: ContentPut, session: SessionDep, principal: BrandPrincipal
) -> ContentPublic:
    """Set your product's content in one language (replacing what it had)."""
    product = _own_product(session, principal, gtin)
    tag = _lang(lang)
    image = None
    if body.image is not None:
        try:
            image = safe_image(base64.b64decode(body.image.data), body.image.media_type)
        except ContentImageError as exc:
            raise FieldError(["body", "image", "data"], str(exc)) from None
    contact = body.contact or Contact()
    fields = ContentFields(
        name=body.name,
        description=body.description or None,
        image=image,
        contact_url=contact.url,
        contact_email=contact.email,
        contact_phone=contact.phone,
    )
    try:
        row = put_content(session, product.id, tag, fields, principal.id, body.is_default)
        session.commit()
    except ContentLimitError as exc:
        raise Conflict(str(exc)) from None
    except IntegrityError:
        # Another request wrote this product's content at the same moment.
        session.rollback()
        raise Conflict("the product's content changed meanwhile: send it again") from None
    return content_public(product.gtin, row)


@router.get("", response_model=list[ContentPublic], responses=errors(404))
def list_content(gtin: Gtin, session: SessionDep, principal: BrandPrincipal) -> list[ContentPublic]:
    """Your product's content in every language it has."""
    product = _own_product(session, principal, gtin)
    rows = contents_of(session, product.id, with_images=True)
    return [content_public(product.gtin, row) for row in rows]


@router.get("/{lang}", response_model=ContentPublic, responses=errors(404))
def get_one(
    gtin: Gtin, lang: Lang, session: SessionDep, principal: BrandPrincipal
) -> ContentPublic:
    """Your product's content in one language."""
    product = _own_product(session, principal, gtin)
    tag = _lang(lang)
    row = content_in(session, product.id, tag)
    if row is None:
        raise NotFound(f"no content in {tag} for GTIN {product.gtin}")
    return content_public(product.gtin, row)


@router.delete("/{lang}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
def delete(gtin: Gtin, lang: Lang, session: SessionDep, principal: BrandPrincipal) -> Response:
    """Delete your product's content in one language (the oldest other becomes the default)."""
    product = _own_product(session, principal, gtin)
    tag = _lang(lang)
    if not delete_content(session, product.id, tag):
        raise NotFound(f"no content in {tag} for GTIN {product.gtin}")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
