"""Catalogue lookups shared by routes: GTINs from outside, products, items and their links."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import Forbidden, NotFound
from api.links import item_link
from api.schemas.products import ItemPublic, ProductPublic
from core.gs1 import sgtin_urn
from store.models import Brand, Item, Principal, Product


def product_or_404(session: Session, gtin: str) -> Product:
    """The product with this GTIN-14, or 404."""
    product = session.scalar(select(Product).where(Product.gtin == gtin))
    if product is None:
        raise NotFound(f"no product with GTIN {gtin}")
    return product


def brand_of_principal(session: Session, principal: Principal) -> Brand:
    """The brand a brand principal registered, or 409-style guidance to register first."""
    brand = session.scalar(select(Brand).where(Brand.principal_id == principal.id))
    if brand is None:
        raise Forbidden("register your brand (POST /brands) before adding products")
    return brand


def own_product(session: Session, principal: Principal, gtin: str) -> Product:
    """A product of the calling brand; another brand's product is 403."""
    product = product_or_404(session, gtin)
    if product.brand.principal_id != principal.id:
        raise Forbidden(f"GTIN {gtin} belongs to another brand")
    return product


def epc_of(item: Item) -> str:
    """The item's SGTIN EPC URN (company prefix length from its brand)."""
    product = item.product
    return sgtin_urn(product.gtin, item.serial, len(product.brand.company_prefix))


def item_public(item: Item, base_url: str) -> ItemPublic:
    """The view of an item with its Digital Link."""
    return ItemPublic(
        gtin=item.product.gtin,
        serial=item.serial,
        epc=epc_of(item),
        link=item_link(base_url, item.product.gtin, item.serial),
        commissioned=item.commission_event_id is not None,
        lot=item.lot,
        expiry=item.expiry,
    )


def product_public(product: Product) -> ProductPublic:
    """The public view of a product."""
    return ProductPublic(
        gtin=product.gtin,
        name=product.name,
        company_prefix=product.brand.company_prefix,
        brand_name=product.brand.name,
    )
