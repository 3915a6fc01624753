"""Rate limits (the `limits` package): per client on public routes, per principal on writes.

Counters live in Redis when REDIS_URL is set, so every API process draws on one budget; else in
this process's memory. While Redis is unreachable, this process's memory decides (a per-process
budget, logged and counted in /metrics) rather than letting every request through or refusing
them all; Redis is tried again after REDIS_RETRY_S.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from api.errors import ApiError
from api.openapi_doc import answers
from api.settings import IPV6_CLIENT_PREFIX, ApiSettings

_LOGGER = logging.getLogger(__name__)

IPNetwork = IPv4Network | IPv6Network

# After a Redis error, decide from memory for this long before trying Redis again (so a dead
# Redis costs one connection timeout per interval, not one per request).
REDIS_RETRY_S = 5.0
# Redis must answer within this (seconds); a blackholed host must not hang requests.
REDIS_TIMEOUT_S = 1.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Bucket(StrEnum):
    """What a limit counts; each has its own setting and its own counters."""

    RESOLVER = "resolver"  # per client: Digital Link pages and JSON
    QR = "qr"  # per client: QR code PNGs
    WRITES = "writes"  # per principal (its API keys together): POST, PUT, PATCH, DELETE
    AUTH_FAILURES = "auth-failures"  # per client: missing, unknown or revoked API keys
    CODE_REPORTS = "code-reports"  # per client: shoppers' reports of not-recognised codes


# (allowed, seconds until the next request would be): what one limit says of one request.
_Verdict = tuple[bool, int]
_Decision = Callable[[MovingWindowRateLimiter, RateLimitItem, Bucket, str], _Verdict]


class TooManyRequests(ApiError):
    """429 with Retry-After: the client (or key) spent its budget for now."""

    status_code = 429

    def __init__(self, bucket: Bucket, retry_after: int) -> None:
        super().__init__(
            f"rate limit exceeded ({bucket.value}); retry after {retry_after} s",
            {"Retry-After": str(retry_after)},
        )
        self.bucket = bucket
        self.retry_after = retry_after


def _parse_hop(hop: str) -> IPv4Address | IPv6Address | None:
    """One X-Forwarded-For entry as an address; proxies may add a port ("[v6]:p", "v4:p")."""
    hop = hop.strip()
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    try:
        address = ip_address(hop)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _identity(address: IPv4Address | IPv6Address) -> str:
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def client_identity(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> str:
    """Whom a request counts against: the socket peer, or what trusted proxies say it relayed.

    Only when the peer is a trusted proxy is X-Forwarded-For read, right to left: each entry
    was appended by the hop after it, so the first entry not itself a trusted proxy is the
    client. Entries left of it were written by the client and are ignored. An entry that is no
    address stops the walk at the proxy that wrote it. IPv6 clients count per /64.
    """
    if not peer:
        return "unknown"
    current = _parse_hop(peer)
    if current is None:
        return peer
    if not any(current in net for net in trusted):
        return _identity(current)
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse_hop(hop)
        if address is None:
            break
        current = address
        if not any(current in net for net in trusted):
            break
    return _identity(current)


class RateLimits:
    """The app's limiter: moving windows in Redis (REDIS_URL) or memory, one per bucket."""

    def __init__(self, settings: ApiSettings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._limits = {
            Bucket.RESOLVER: parse_many(settings.rate_limit_resolver),
            Bucket.QR: parse_many(settings.rate_limit_qr),
            Bucket.WRITES: parse_many(settings.rate_limit_writes),
            Bucket.AUTH_FAILURES: parse_many(settings.rate_limit_auth_failures),
            Bucket.CODE_REPORTS: parse_many(settings.rate_limit_code_reports),
        }
        self._trusted = settings.trusted_proxies
        self._exempt = settings.rate_limit_exempt
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._redis_storage: RedisStorage | None = None
        self._redis: MovingWindowRateLimiter | None = None
        if settings.redis_url and self.enabled:
            self._redis_storage = RedisStorage(
                settings.redis_url,
                key_prefix=settings.rate_limit_key_prefix,
                wrap_exceptions=True,
                socket_connect_timeout=REDIS_TIMEOUT_S,
                socket_timeout=REDIS_TIMEOUT_S,
            )
            self._redis = MovingWindowRateLimiter(self._redis_storage)
        self._lock = threading.Lock()
        self._redis_down_until = 0.0
        self._redis_down = False
        self.storage_errors = 0
        self.fallback_decisions = 0
        self.refused = dict.fromkeys(Bucket, 0)

    def client(self, request: Request) -> str:
        """The identity a request's per-client limits count against."""
        peer = request.client.host if request.client else None
        return client_identity(peer, request.headers.getlist("x-forwarded-for"), self._trusted)

    def exempt(self, identity: str) -> bool:
        """Whether `identity` (a client's address, or its IPv6 /64) lies in RATE_LIMIT_EXEMPT."""
        if not self._exempt:
            return False
        try:
            client = ip_network(identity)
        except ValueError:
            return False  # a principal, or a peer that is no address
        return any(
            client.version == net.version and client.subnet_of(net)  # type: ignore[arg-type]
            for net in self._exempt
        )

    def hit(self, bucket: Bucket, identity: str) -> None:
        """Spend one request of `identity`'s budget in `bucket`; TooManyRequests if none is left."""
        if not self.enabled or self.exempt(identity):
            return
        for item in self._limits[bucket]:
            allowed, retry_after = self._decide(_hit, item, bucket, identity)
            if not allowed:
                self._refuse(bucket, retry_after)

    def check(self, bucket: Bucket, identity: str) -> None:
        """TooManyRequests if `identity` has no budget left in `bucket` (spends nothing)."""
        if not self.enabled or self.exempt(identity):
            return
        for item in self._limits[bucket]:
            allowed, retry_after = self._decide(_test, item, bucket, identity)
            if not allowed:
                self._refuse(bucket, retry_after)

    def write(self, method: str, principal_id: int) -> None:
        """Spend one of the principal's writes if `method` writes (all its keys share them)."""
        if method.upper() in WRITE_METHODS:
            self.hit(Bucket.WRITES, f"principal:{principal_id}")

    def close(self) -> None:
        """Release the Redis connections (if any)."""
        if self._redis_storage is not None:
            self._redis_storage.storage.connection_pool.disconnect()

    def _refuse(self, bucket: Bucket, retry_after: int) -> None:
        with self._lock:
            self.refused[bucket] += 1
        raise TooManyRequests(bucket, retry_after)

    def _decide(
        self, decide: _Decision, item: RateLimitItem, bucket: Bucket, ident: str
    ) -> _Verdict:
        redis = self._redis
        if redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                result = decide(redis, item, bucket, ident)
            except StorageError as exc:
                self._redis_failed(exc.storage_error)
            else:
                if self._redis_down:
                    self._redis_down = False
                    _LOGGER.warning("rate limits: Redis answers again; budgets are shared again")
                return result
        if redis is not None:
            with self._lock:
                self.fallback_decisions += 1
        return decide(self._memory, item, bucket, ident)

    def _redis_failed(self, exc: Exception) -> None:
        with self._lock:
            self.storage_errors += 1
            self._redis_down_until = time.monotonic() + REDIS_RETRY_S
            first = not self._redis_down
            self._redis_down = True
        if first:
            _LOGGER.warning(
                "rate limits: Redis unreachable (%s: %s); this process counts on its own "
                "until it answers again",
                type(exc).__name__,
                exc,
            )


def _retry_after(limiter: MovingWindowRateLimiter, item: RateLimitItem, *ids: str) -> int:
    reset = limiter.get_window_stats(item, *ids).reset_time
    return max(1, math.ceil(reset - time.time()))


def _hit(
    limiter: MovingWindowRateLimiter, item: RateLimitItem, bucket: Bucket, identity: str
) -> _Verdict:
    if limiter.hit(item, bucket.value, identity):
        return True, 0
    return False, _retry_after(limiter, item, bucket.value, identity)


def _test(
    limiter: MovingWindowRateLimiter, item: RateLimitItem, bucket: Bucket, identity: str
) -> _Verdict:
    if limiter.test(item, bucket.value, identity):
        return True, 0
    return False, _retry_after(limiter, item, bucket.value, identity)


def limits_of(request: Request) -> RateLimits:
    """The app's RateLimits (create_app puts it in app.state.chaintrace)."""
    limits: RateLimits = request.app.state.chaintrace.rate_limits
    return limits


def per_client(bucket: Bucket) -> Callable[[Request], None]:
    """A route dependency spending one request of the calling client's budget in `bucket`."""

    @answers(429)
    def spend(request: Request) -> None:
        limits = limits_of(request)
        limits.hit(bucket, limits.client(request))

    spend.__name__ = f"rate_limit_{bucket.name.lower()}"
    return spend


class RateLimitCollector(Collector):
    """Counters for /metrics: refusals per bucket, Redis errors, decisions made without Redis."""

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits

    def collect(self) -> Iterator[CounterMetricFamily]:
        refused = CounterMetricFamily(
            "chaintrace_rate_limited", "Requests refused with 429, by limit", labels=["bucket"]
        )
        for bucket, count in self._limits.refused.items():
            refused.add_metric([bucket.value], count)
        yield refused
        yield CounterMetricFamily(
            "chaintrace_rate_limit_storage_errors",
            "Redis errors met by the rate limiter",
            value=self._limits.storage_errors,
        )
        yield CounterMetricFamily(
            "chaintrace_rate_limit_fallback_decisions",
            "Rate-limit decisions taken from this process's memory because Redis was down",
            value=self._limits.fallback_decisions,
        )
