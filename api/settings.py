"""Settings of the API process (`chaintrace api`): database, chain, public base URL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from store.settings_base import ProcessSettings

DEV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"


class ApiSettings(ProcessSettings):
    """Environment of the API; the API never holds a private key, so none is read here."""

    required_outside_dev: ClassVar[tuple[str, ...]] = ("database_url", "public_base_url")

    # Optional even outside dev mode: without a chain the API still serves the store's data,
    # and the endpoints that need the chain answer 503.
    chain_rpc_url: str | None = None
    deployments_file: Path = Path(".chaintrace/deployments.json")
    # The origin printed in Digital Links and QR codes, e.g. https://id.example.com
    public_base_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65_535)
    # How long a commissioning draft waits for the brand's signature before answering 410 Gone.
    commissioning_draft_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=365 * 24 * 3600)

    @property
    def commissioning_draft_ttl(self) -> timedelta:
        """COMMISSIONING_DRAFT_TTL_SECONDS as a duration."""
        return timedelta(seconds=self.commissioning_draft_ttl_seconds)

    @property
    def base_url(self) -> str:
        """PUBLIC_BASE_URL without a trailing slash (the dev default in dev mode)."""
        return (self.public_base_url or DEV_PUBLIC_BASE_URL).rstrip("/")

    @field_validator("public_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "PUBLIC_BASE_URL must be an http(s) URL such as https://id.example.com"
            )
        if parts.query or parts.fragment:
            raise ValueError("PUBLIC_BASE_URL must not carry a query or fragment")
        return value.rstrip("/")
