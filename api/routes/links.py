"""The link registry: a brand's resolver links for its GTINs, their lots and serials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.catalog import brand_of_principal
from api.deps import BrandPrincipal, SessionDep, SettingsDep
from api.errors import Conflict, FieldError, NotFound
from api.openapi_doc import errors
from api.schemas.common import INT64_MAX, Gtin, Serial
from api.schemas.links import LinkCreate, LinkPublic
from core import link_rules
from core.errors import LinkError
from store.link_registry import LinkLimitError, add_link, brand_links, prefix_brand
from store.models import Brand, Principal, Product, ResolverLink

router = APIRouter(tags=["links"])


def own_gtin(session: Session, principal: Principal, gtin: str) -> Brand:
    """The calling brand, if it holds the GTIN's company prefix (the longest registered one)
    and the product exists; else 404, the same for another brand's GTIN as for a missing one."""
    brand = brand_of_principal(session, principal)
    product = session.scalar(select(Product.id).where(Product.gtin == gtin))
    holder = prefix_brand(session, gtin)
    if product is None or holder is None or holder.id != brand.id:
        raise NotFound(f"no product with GTIN {gtin} among yours")
    return brand


def link_public(link: ResolverLink) -> LinkPublic:
    """The registry's view of a link."""
    return LinkPublic(
        id=link.id,
        gtin=link.gtin,
        lot=link.lot,
        serial=link.serial,
        link_type=link.link_type,
        href=link.href,
        title=link.title,
        hreflang=list(link.hreflang),
        type=link.media_type,
        created_at=link.created_at,
    )


@router.post(
    "/products/{gtin}/links",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkPublic,
    responses=errors(404, 409),
)
def add(
    gtin: Gtin,
    body: LinkCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: BrandPrincipal,
) -> LinkPublic:
    """Add a resolver link for one of your GTINs, or (with `lot` or `serial`) one lot or item."""
    brand = own_gtin(session, principal, gtin)
    if body.lot is not None and body.serial is not None:
        raise FieldError(["body", "serial"], "a link is for a GTIN, a lot or a serial: not both")
    try:
        href = link_rules.href(body.href, allow_loopback_http=settings.dev)
    except LinkError as exc:
        raise FieldError(["body", "href"], str(exc)) from None
    link = ResolverLink(
        brand_id=brand.id,
        gtin=gtin,
        lot=body.lot,
        serial=body.serial,
        link_type=body.link_type,
        href=href,
        title=body.title,
        hreflang=list(body.hreflang),
        media_type=body.media_type,
    )
    try:
        add_link(session, link)
    except LinkLimitError as exc:
        raise Conflict(str(exc)) from None
    session.commit()
    return link_public(link)


@router.get("/products/{gtin}/links", response_model=list[LinkPublic], responses=errors(404))
def list_links(
    gtin: Gtin,
    session: SessionDep,
    principal: BrandPrincipal,
    lot: Annotated[Serial | None, Query(description="Only this lot's links")] = None,
    serial: Annotated[Serial | None, Query(description="Only this item's links")] = None,
) -> list[LinkPublic]:
    """Your links for one of your GTINs (every level), or for one lot or serial of it."""
    brand = own_gtin(session, principal, gtin)
    return [link_public(link) for link in brand_links(session, brand.id, gtin, lot, serial)]


@router.delete("/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
def delete(
    link_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    session: SessionDep,
    principal: BrandPrincipal,
) -> Response:
    """Delete one of your links."""
    brand = brand_of_principal(session, principal)
    link = session.get(ResolverLink, link_id)
    if link is None or link.brand_id != brand.id:
        raise NotFound(f"no link {link_id} among yours")
    session.delete(link)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
