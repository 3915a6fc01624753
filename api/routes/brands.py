"""Brands: registering a company prefix, its on-chain registration transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from api.brand_state import brand_on_chain, ledger
from api.chain_access import trace_anchor
from api.deps import AdminPrincipal, BrandPrincipal, ChainDep, SessionDep, wallet_of
from api.errors import Conflict, NotFound
from api.openapi_doc import errors
from api.schemas.brands import BrandCreate, BrandOnChain, BrandPublic
from api.schemas.common import Address, CompanyPrefix, EthTx, UnsignedTx
from api.state import ChainAccess
from store.models import Brand

router = APIRouter(prefix="/brands", tags=["brands"])


def brand_by_prefix(session: SessionDep, prefix: str) -> Brand:
    """The brand owning `prefix`, or 404."""
    brand = session.scalar(select(Brand).where(Brand.company_prefix == prefix))
    if brand is None:
        raise NotFound(f"no brand with company prefix {prefix}")
    return brand


def _on_chain(session: SessionDep, chain: ChainAccess, brand: Brand) -> BrandOnChain | None:
    if not chain.configured:
        return None
    wallet = brand.principal.wallet_address
    return brand_on_chain(ledger(session, chain), brand.company_prefix, wallet)


def brand_public(brand: Brand, on_chain: BrandOnChain | None = None) -> BrandPublic:
    """The public view of a brand."""
    return BrandPublic(
        company_prefix=brand.company_prefix,
        name=brand.name,
        principal_id=brand.principal_id,
        wallet_address=brand.principal.wallet_address,
        on_chain=on_chain,
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=BrandPublic, responses=errors(409)
)
def register(body: BrandCreate, session: SessionDep, principal: BrandPrincipal) -> BrandPublic:
    """Register the calling brand's GS1 company prefix (one per brand principal)."""
    prefix = body.company_prefix
    wallet_of(principal)
    if session.scalar(select(Brand).where(Brand.principal_id == principal.id)) is not None:
        raise Conflict("this principal already registered its brand")
    if session.scalar(select(Brand).where(Brand.company_prefix == prefix)) is not None:
        raise Conflict(f"company prefix {prefix} belongs to another brand")
    # Prefixes nest (0614141 and 06141410): one inside another would let GTINs match both.
    for other in session.scalars(select(Brand.company_prefix)):
        if other.startswith(prefix) or prefix.startswith(other):
            raise Conflict(f"company prefix {prefix} overlaps registered prefix {other}")
    brand = Brand(principal_id=principal.id, company_prefix=prefix, name=body.name)
    brand.principal = principal
    session.add(brand)
    session.commit()
    return brand_public(brand)


@router.get("/{prefix}", response_model=BrandPublic, responses=errors(404))
def get(prefix: CompanyPrefix, session: SessionDep, chain: ChainDep) -> BrandPublic:
    """A brand by company prefix, with its standing on chain (registered, revoked at block N,
    compromised since T) as the chain follower saw it, when a chain is configured."""
    brand = brand_by_prefix(session, prefix)
    return brand_public(brand, _on_chain(session, chain, brand))


@router.get("/{prefix}/registration-tx", response_model=UnsignedTx, responses=errors(404, 409))
def registration_tx(
    prefix: CompanyPrefix,
    session: SessionDep,
    chain: ChainDep,
    admin: AdminPrincipal,
    sender: Annotated[
        Address | None,
        Query(description="The admin wallet that sends it (default: the caller's wallet)"),
    ] = None,
) -> UnsignedTx:
    """The unsigned TraceAnchor.registerBrand transaction for the platform admin's wallet."""
    brand = brand_by_prefix(session, prefix)
    brand_wallet = wallet_of(brand.principal)
    client = trace_anchor(chain)
    owner = client.brand_of(brand.company_prefix)
    if owner is not None and client.brand_revoked_at(owner) == 0:  # a revoked key's prefix moves
        raise Conflict(f"company prefix {brand.company_prefix} is already registered to {owner}")
    if sender is None and admin.wallet_address is None:
        raise Conflict("your principal has no wallet: pass ?sender=<the admin wallet address>")
    sender = sender or wallet_of(admin)
    tx = client.build_register_brand(sender, brand_wallet, brand.company_prefix)
    return UnsignedTx(
        description=f"TraceAnchor.registerBrand({brand_wallet}, {brand.company_prefix!r})",
        tx=EthTx.of(tx),
    )
