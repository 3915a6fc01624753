"""Principals (users of the platform) and their API keys."""

from __future__ import annotations

from pydantic import Field

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


class ApiKeyCreate(ApiModel):
    """A label for a new key."""

    label: str = Field(default="", max_length=200)


class ApiKeyCreated(ApiModel):
    """A new API key: the secret is shown this once and never stored."""

    principal_id: int
    api_key: str


class PrincipalCreated(PrincipalPublic):
    """The new principal with its first API key (shown once)."""

    api_key: str
