"""Settings of the API process (`chaintrace api`): database, chain, public base URL."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from api.chain_public import public_url
from chain.settings import FinalityMode
from store.settings_base import ProcessSettings

DEV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
# One IPv6 subscriber usually holds a whole /64: rate limits count an IPv6 client per /64.
IPV6_CLIENT_PREFIX = 64


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
    # How far in the past a shipment's shipping / arriving / receiving eventTime may lie when it
    # is recorded (its times decide the settlement window); the future is refused beyond 60 s.
    event_max_backdate_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Finality as `chaintrace anchor` reads it (the same FINALITY / CONFIRMATIONS), for the
    # confirmations an item page says are still to come (api/finality.py).
    finality: FinalityMode = "auto"
    confirmations: int = Field(default=2, ge=1, le=10_000)
    # Rate limits (api/rate_limit.py) in the `limits` notation: "120/minute", "5/second;100/hour".
    rate_limit_enabled: bool = True
    rate_limit_resolver: str = "120/minute"  # per client: Digital Link pages and JSON
    rate_limit_qr: str = "60/minute"  # per client: QR PNGs (~12 ms of CPU each)
    rate_limit_writes: str = "300/minute"  # per principal (all its keys): POST, PUT, PATCH, DELETE
    rate_limit_auth_failures: str = "20/minute"  # per client: missing, unknown or revoked keys
    rate_limit_code_reports: str = "5/minute;20/day"  # per client: "report this code" (public)
    # Counters in Redis are shared by every API process; without it each process counts alone.
    redis_url: str | None = None
    rate_limit_key_prefix: str = Field(default="chaintrace", min_length=1)
    # Proxies whose X-Forwarded-For is believed: IPs or CIDRs, comma-separated.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # Clients whose per-client limits are lifted (a load generator, a monitoring probe): IPs or
    # CIDRs, comma-separated; IPv6 clients count per /64, so an IPv6 entry is a /64 or wider.
    rate_limit_exempt: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # Scan counts for brands (api/scan_counter.py): buffered in memory, flushed every so often.
    scan_counting_enabled: bool = True
    scan_flush_seconds: float = Field(default=5.0, gt=0, le=3600)
    scan_buffer_max: int = Field(default=100_000, ge=1, le=10_000_000)
    # Item answers kept per process (api/answer_cache.py): seconds (0: off, at most 10), count.
    resolver_cache_seconds: float = Field(default=1.0, ge=0, le=10)
    resolver_cache_entries: int = Field(default=1_000, ge=1, le=100_000)
    # EPCIS subscriptions: webhook destinations resolving to private, link-local or loopback
    # addresses are refused unless this is set (dev mode allows loopback only).
    webhook_allow_private: bool = False
    # Key of the hash that tells one client's repeated reports of a code apart from others'
    # (api/code_report_client.py); unset: a random key per process (repeats then count as new
    # reports after a restart or on another process, still bounded per code).
    code_report_key: SecretStr | None = None
    # "Check it yourself" (api/chain_public.py): the chain's name on the page (unset: from its
    # chain id), the block explorer whose base + "/tx/" + hash shows a transaction (unset: no
    # links), the JSON-RPC the page's own verifier asks from the browser (unset: not offered;
    # the only origin besides ours that the page's CSP lets it connect to). https only, http on
    # loopback. The bundle states FINALITY / CONFIRMATIONS (above).
    chain_name: str | None = Field(default=None, max_length=80)
    explorer_url: str | None = None
    public_rpc_url: str | None = None

    @property
    def commissioning_draft_ttl(self) -> timedelta:
        """COMMISSIONING_DRAFT_TTL_SECONDS as a duration."""
        return timedelta(seconds=self.commissioning_draft_ttl_seconds)

    @property
    def event_max_backdate(self) -> timedelta:
        """EVENT_MAX_BACKDATE_SECONDS as a duration."""
        return timedelta(seconds=self.event_max_backdate_seconds)

    @property
    def base_url(self) -> str:
        """PUBLIC_BASE_URL without a trailing slash (the dev default in dev mode)."""
        return (self.public_base_url or DEV_PUBLIC_BASE_URL).rstrip("/")

    @field_validator(
        "rate_limit_resolver",
        "rate_limit_qr",
        "rate_limit_writes",
        "rate_limit_auth_failures",
        "rate_limit_code_reports",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit such as 120/minute or 5/second;100/hour"
            ) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("redis", "rediss", "unix", "redis+unix"):
            raise ValueError("REDIS_URL must be a redis://, rediss:// or unix:// URL")
        return value or None

    @field_validator("trusted_proxies", "rate_limit_exempt", mode="before")
    @classmethod
    def _split_networks(cls, value: Any, info: ValidationInfo) -> Any:
        name = str(info.field_name).upper()
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            try:
                return tuple(ip_network(str(part).strip(), strict=False) for part in value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    @field_validator("rate_limit_exempt")
    @classmethod
    def _check_exempt(
        cls, value: tuple[IPv4Network | IPv6Network, ...]
    ) -> tuple[IPv4Network | IPv6Network, ...]:
        for net in value:
            if isinstance(net, IPv6Network) and net.prefixlen > IPV6_CLIENT_PREFIX:
                raise ValueError(
                    f"RATE_LIMIT_EXEMPT: {net} is narrower than the /{IPV6_CLIENT_PREFIX} an "
                    f"IPv6 client is counted as; exempt its /{IPV6_CLIENT_PREFIX}"
                )
        return value

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

    @field_validator("explorer_url", "public_rpc_url")
    @classmethod
    def _check_public_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        name = (info.field_name or "").upper()
        return public_url(value, name, query=info.field_name == "public_rpc_url")

    @field_validator("chain_name")
    @classmethod
    def _check_chain_name(cls, value: str | None) -> str | None:
        if value is not None and not value.isprintable():
            raise ValueError("CHAIN_NAME must be printable text")
        return value.strip() or None if value is not None else None
