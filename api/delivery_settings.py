"""Settings of the EPCIS subscription delivery worker (`chaintrace deliver`, and `up`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from store.settings_base import ProcessSettings


class DeliverySettings(ProcessSettings):
    """Environment of the delivery worker: the database, the destinations it may reach, and
    its timing."""

    # As the API's WEBHOOK_ALLOW_PRIVATE: destinations resolving to private, link-local or
    # loopback addresses are refused unless set (dev mode allows loopback only).
    webhook_allow_private: bool = False
    delivery_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Bounds each of connect, write, read (per chunk) and pool waits of one POST.
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Retry after base x 2^(attempt-1), at most cap: a subscriber down for a day is retried
    # every `cap` seconds, and gets everything (in order) once it answers 2xx again.
    delivery_backoff_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    delivery_backoff_cap_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # PostgreSQL: how long a gap in event ids may be an insert still to commit (see
    # store/subscription_outbox.py); SQLite never has one.
    delivery_gap_wait_seconds: float = Field(default=30.0, ge=0, le=3600)
    delivery_max_events: int = Field(default=100, ge=1, le=1000)  # per EPCISQueryDocument
    # Undelivered documents a subscription may have: past it, matching waits (its cursor stays,
    # so nothing is lost) and a due scheduled run waits.
    delivery_max_pending: int = Field(default=10, ge=1, le=1000)
    delivery_parallel: int = Field(default=8, ge=1, le=64)  # POSTs in flight (distinct dests)

    def backoff(self, attempts: int) -> timedelta:
        """The wait before the next try after `attempts` failed tries (capped, exponential)."""
        exponent = min(max(attempts - 1, 0), 40)
        seconds = min(
            self.delivery_backoff_cap_seconds, self.delivery_backoff_base_seconds * 2**exponent
        )
        return timedelta(seconds=seconds)

    @property
    def allow_loopback(self) -> bool:
        """Loopback destinations: in dev mode, or when private ones are allowed."""
        return self.dev or self.webhook_allow_private
