"""Brands: a principal and its GS1 company prefix."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import ApiModel


class BrandBase(ApiModel):
    """A brand's name and GS1 company prefix."""

    company_prefix: str = Field(description="GS1 company prefix, 6 to 12 digits")
    name: str = Field(min_length=1, max_length=200)


class BrandCreate(BrandBase):
    """A brand principal registers its (one) company prefix."""


class BrandOnChain(ApiModel):
    """What TraceAnchor says about the prefix."""

    registered: bool
    brand_address: str | None
    matches_wallet: bool


class BrandPublic(BrandBase):
    """A brand as anyone sees it; `on_chain` is null when no chain is configured."""

    principal_id: int
    wallet_address: str | None
    on_chain: BrandOnChain | None = None
