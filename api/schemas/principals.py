"""Principals (users of the platform) and their API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, StrictBool

from api.schemas.common import Address, ApiModel
from store.models import Role


class PrincipalBase(ApiModel):
    """Who a principal is: a name, one role, optionally one wallet."""

    name: str = Field(min_length=1, max_length=200)
    role: Role
    wallet_address: Address | None = None


class PrincipalCreate(PrincipalBase):
    """An admin creates a principal; its first API key comes back once."""

    key_label: str = Field(default="", max_length=200)


class PrincipalPublic(PrincipalBase):
    """A principal as others see it."""

    id: int
    disabled_at: datetime | None = Field(
        default=None, description="Set while the principal is disabled: none of its keys works"
    )


class PrincipalPatch(ApiModel):
    """What an admin changes on a principal: its wallet (null clears it), disabled or not."""

    wallet_address: Address | None = None
    disabled: StrictBool | None = None


class ApiKeyCreate(ApiModel):
    """A label for a new key, and when it stops working (never if absent)."""

    label: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyPublic(ApiModel):
    """A key as its holder and the admin see it; never its secret (only its hash is stored)."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To within 5 minutes")
    revoked_at: datetime | None


class ApiKeyCreated(ApiModel):
    """A new API key: the secret is shown this once and never stored."""

    principal_id: int
    api_key: str


class PrincipalCreated(PrincipalPublic):
    """The new principal with its first API key (shown once)."""

    api_key: str
