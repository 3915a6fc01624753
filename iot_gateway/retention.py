"""Dead-letter retention: the gateway deletes old dead letters and all but the newest N of each
reason (a flood of junk cannot push out an equivocation).

Run from the gateway's maintenance thread every GATEWAY_DEAD_LETTER_PURGE_INTERVAL_S. Several
gateways on one database may all run it: each pass deletes what is due at that moment, and a
row deleted by another gateway is simply not counted twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from iot_gateway.metrics import GatewayMetrics
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.dead_letters import purge_dead_letters, trim_dead_letters
from store.models.types import utcnow

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """Dead letters deleted in one pass, by rule."""

    by_age: int
    by_count: int


def purge_dead_letters_once(
    sessions: sessionmaker[Session], settings: GatewaySettings, metrics: GatewayMetrics
) -> PurgeResult | None:
    """One retention pass (count first, then age; one short transaction each), counted in the
    metrics; None if the database failed (logged: the next pass tries again)."""
    try:
        # By count first: it bounds the table whatever the clock, and leaves the age purge
        # fewer rows to look at.
        with transaction(sessions) as session:
            by_count = trim_dead_letters(session, settings.dead_letter_max_rows)
        metrics.dead_letters_purged.labels(rule="count").inc(by_count)
        cutoff = utcnow() - timedelta(seconds=settings.dead_letter_retention_s)
        with transaction(sessions) as session:
            by_age = purge_dead_letters(session, cutoff)
        metrics.dead_letters_purged.labels(rule="age").inc(by_age)
    except Exception:
        _LOGGER.exception("dead-letter purge failed")
        return None
    if by_age or by_count:
        _LOGGER.info(
            "dead letters purged: %d older than %d s, %d beyond the newest %d of their reason",
            by_age,
            settings.dead_letter_retention_s,
            by_count,
            settings.dead_letter_max_rows,
        )
    return PurgeResult(by_age=by_age, by_count=by_count)
