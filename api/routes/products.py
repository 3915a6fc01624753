"""Products of a brand, their items, and starting a commissioning."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from api.brand_state import brand_on_chain, ledger, refuse_if_barred
from api.catalog import (
    brand_of_principal,
    item_public,
    own_product,
    product_or_404,
    product_public,
)
from api.commissioning import MAX_FUTURE, build_draft
from api.deps import BrandPrincipal, ChainDep, SessionDep, SettingsDep, wallet_of
from api.errors import Conflict, FieldError, Forbidden
from api.openapi_doc import errors
from api.routes.commissionings import commissioning_public
from api.schemas.common import Gtin
from api.schemas.products import (
    CommissioningPublic,
    ItemPublic,
    ItemsCommission,
    ProductCreate,
    ProductPublic,
)
from api.signing import commissioning_domain
from chain.anchoring.worker import verifies_kind
from core.gs1 import gtin_has_prefix
from store.commissioning import purge_expired_drafts, save_draft
from store.models import Item, Product
from store.models.events import MEMBER_KIND
from store.models.types import utcnow
from store.projections import public_location_ids

router = APIRouter(prefix="/products", tags=["products"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductPublic,
    responses=errors(403, 409),
)
def create(body: ProductCreate, session: SessionDep, principal: BrandPrincipal) -> ProductPublic:
    """Add a product; its GTIN must carry the calling brand's company prefix (403 otherwise)."""
    gtin = body.gtin
    brand = brand_of_principal(session, principal)
    if not gtin_has_prefix(gtin, brand.company_prefix):
        raise Forbidden(f"GTIN {gtin} is not under your company prefix {brand.company_prefix}")
    if session.scalar(select(Product.id).where(Product.gtin == gtin)) is not None:
        raise Conflict(f"product {gtin} already exists")
    product = Product(brand_id=brand.id, gtin=gtin, name=body.name)
    product.brand = brand
    session.add(product)
    session.commit()
    return product_public(product)


@router.get("", response_model=list[ProductPublic])
def list_own(session: SessionDep, principal: BrandPrincipal) -> list[ProductPublic]:
    """The calling brand's products."""
    brand = brand_of_principal(session, principal)
    products = session.scalars(
        select(Product).where(Product.brand_id == brand.id).order_by(Product.gtin)
    )
    return [product_public(p) for p in products]


@router.get("/{gtin}", response_model=ProductPublic, responses=errors(404))
def get(gtin: Gtin, session: SessionDep) -> ProductPublic:
    """A product by GTIN (any of GTIN-8/12/13/14)."""
    return product_public(product_or_404(session, gtin))


@router.get("/{gtin}/items", response_model=list[ItemPublic], responses=errors(404))
def list_items(
    gtin: Gtin, session: SessionDep, settings: SettingsDep, principal: BrandPrincipal
) -> list[ItemPublic]:
    """The items of one of the calling brand's products."""
    product = own_product(session, principal, gtin)
    items = session.scalars(select(Item).where(Item.product_id == product.id).order_by(Item.id))
    return [item_public(item, settings.base_url) for item in items]


@router.post(
    "/{gtin}/items",
    status_code=status.HTTP_201_CREATED,
    response_model=CommissioningPublic,
    responses=errors(404, 409),
)
def commission_items(
    gtin: Gtin,
    body: ItemsCommission,
    session: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
    principal: BrandPrincipal,
) -> CommissioningPublic:
    """Start commissioning serials: returns the Commissioning typed data for the brand to sign.

    The brand signs within COMMISSIONING_DRAFT_TTL_SECONDS (default 24 h), or starts again.
    """
    product = own_product(session, principal, gtin)
    serials = body.serials
    seen: set[str] = set()
    for index, serial in enumerate(serials):
        if serial in seen:
            raise FieldError(["body", "serials", index], f"serial {serial!r} appears twice")
        seen.add(serial)
    existing = session.scalars(
        select(Item.serial).where(Item.product_id == product.id, Item.serial.in_(serials))
    ).all()
    if existing:
        raise Conflict(f"already commissioned under GTIN {product.gtin}: {sorted(existing)}")
    now = utcnow()
    event_time = body.event_time or now
    if event_time.tzinfo is None:
        raise FieldError(["body", "eventTime"], "must carry a UTC offset (e.g. Z)")
    if event_time > now + MAX_FUTURE:
        raise FieldError(["body", "eventTime"], "must not be in the future")
    wallet = wallet_of(principal)
    brands = ledger(session, chain)
    refuse_if_barred(brands, wallet)
    domain, version = commissioning_domain(chain)
    draft = build_draft(
        product,
        serials,
        wallet,
        domain,
        event_time=event_time,
        read_point=body.read_point,
        biz_location=body.biz_location,
        principal_id=principal.id,
        lot=body.lot,
        expiry=body.expiry,
        public_locations=public_location_ids(
            session, [p for p in (body.read_point, body.biz_location) if p]
        ),
        # Kind 2 leaves only in a root for a release that verifies them (TraceAnchor v2+).
        with_members=verifies_kind(version, MEMBER_KIND),
    )
    prefix = product.brand.company_prefix
    registered = brand_on_chain(brands, prefix, wallet).registered
    purge_expired_drafts(session, settings.commissioning_draft_ttl)
    save_draft(session, draft)
    session.commit()
    return commissioning_public(draft, brand_registered_on_chain=registered)
