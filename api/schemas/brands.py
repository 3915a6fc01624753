"""Brands: a principal and its GS1 company prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.schemas.common import ApiModel, CompanyPrefix


class BrandBase(ApiModel):
    """A brand's name and GS1 company prefix."""

    company_prefix: CompanyPrefix = Field(description="GS1 company prefix, 6 to 12 digits")
    name: str = Field(min_length=1, max_length=200)


class BrandCreate(BrandBase):
    """A brand principal registers its (one) company prefix."""


class BrandOnChain(ApiModel):
    """What the followed chain says of the prefix and the brand's wallet (the chain follower's
    view: a registration, revocation or compromise shows once the follower has read it)."""

    registered: bool = Field(
        description="The brand's wallet holds the prefix and the chain still takes its signature"
    )
    status: Literal["unregistered", "registered", "revoked", "compromised"] = Field(
        description="The wallet's standing: compromised wins over revoked"
    )
    brand_address: str | None = Field(description="The prefix's latest registered holder")
    matches_wallet: bool
    registered_block: int | None = None
    revoked_block: int | None = None
    revoked_at: int | None = Field(default=None, description="Unix seconds")
    compromised_since: int | None = Field(
        default=None, description="Unix seconds: roots the key signed from then on do not count"
    )


class BrandPublic(BrandBase):
    """A brand as anyone sees it; `on_chain` is null when no chain is configured."""

    principal_id: int
    wallet_address: str | None
    on_chain: BrandOnChain | None = None
