"""The resolver's answer for a GTIN-only or lot-level Digital Link: the product and its brand,
the lot and its expiry. Never a serial, nor how many items a lot holds: those would hand a
counterfeiter valid codes to print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.content_view import content_view
from api.errors import NotFound
from core.digital_link import GtinKey, key_link
from store.models import Item, Product


def product_of_key(session: Session, key: GtinKey) -> Product:
    """The product the key's GTIN names, with the key's lot recorded by one of its items; else
    404 (the caller adds the verdict: neutral for a GTIN no brand registered)."""
    product = session.scalars(select(Product).where(Product.gtin == key.gtin)).one_or_none()
    if product is None:
        raise NotFound(f"no product with GTIN {key.gtin}")
    if key.lot is not None and _lot_expiries(session, product, key.lot) is None:
        raise NotFound(f"no lot {key.lot!r} of GTIN {key.gtin}")
    return product


def _lot_expiries(session: Session, product: Product, lot: str) -> set[str] | None:
    """The expiry dates items of the lot record (None if no item records the lot)."""
    rows = session.execute(
        select(Item.expiry).where(Item.product_id == product.id, Item.lot == lot).distinct()
    ).all()
    if not rows:
        return None
    return {expiry.isoformat() for (expiry,) in rows if expiry is not None}


def product_view(
    session: Session,
    product: Product,
    key: GtinKey,
    base_url: str,
    languages: Sequence[str] = (),
    brand_heard: bool = True,
) -> dict[str, Any]:
    """What the resolver shows for a product or a lot of it (the brand's content in the first
    of the viewer's `languages` it has, unless the brand's word no longer holds)."""
    brand = product.brand
    lot: dict[str, Any] | None = None
    if key.lot is not None:
        expiries = _lot_expiries(session, product, key.lot) or set()
        # One expiry for the lot when its items agree on one; none when they differ.
        lot = {"lot": key.lot, "expiry": next(iter(expiries)) if len(expiries) == 1 else None}
    return {
        "link": key_link(base_url, GtinKey(product.gtin, key.variant, key.lot)),
        "product": {"gtin": product.gtin, "name": product.name},
        "brand": {
            "name": brand.name,
            "companyPrefix": brand.company_prefix,
            "walletAddress": brand.principal.wallet_address,
        },
        "lot": lot,
        "content": content_view(session, product, languages) if brand_heard else None,
    }
