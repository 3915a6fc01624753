"""Dead letters: rejected messages kept with their reason, bounded in size, never fatal to store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from eth_utils.address import is_hex_address, to_checksum_address
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from store.errors import StoreValueError
from store.models import DeadLetter
from store.models.types import utcnow

# Enough to hold a whole valid reading (~370 bytes on the wire) and to see what else a sender
# sent; payload_size keeps the original size. Small, because a flood of junk is kept too (up to
# the gateway's GATEWAY_DEAD_LETTER_MAX_ROWS rows per reason, see trim_dead_letters).
MAX_PAYLOAD_BYTES = 512
MAX_TOPIC_CHARS = 256
MAX_DETAIL_CHARS = 1000
MAX_REASON_CHARS = 32
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    """A message to dead-letter; anything out of bounds is truncated or dropped, never refused."""

    topic: str
    payload: bytes
    reason: str
    detail: str = ""
    device_address: str | None = None
    seq: int | None = None
    received_at: datetime = field(default_factory=utcnow)
    # The whole message's size when `payload` is already a prefix of it (else len(payload)).
    payload_size: int | None = None


def _device(value: object) -> str | None:
    # Hostile input may name anything: keep a device only when it is a real address.
    if isinstance(value, str) and is_hex_address(value):
        return str(to_checksum_address(value))
    return None


def _seq(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT64_MAX:
        return None
    return value


def _size(claimed: object, kept: int) -> int:
    if isinstance(claimed, bool) or not isinstance(claimed, int) or claimed < kept:
        return kept
    return claimed


def _row(letter: NewDeadLetter) -> dict[str, Any]:
    if not isinstance(letter.reason, str) or not 1 <= len(letter.reason) <= MAX_REASON_CHARS:
        # The reason is ours (an enum value), never the sender's: a bad one is a bug.
        raise StoreValueError(f"dead-letter reason must be 1-{MAX_REASON_CHARS} characters")
    payload = bytes(letter.payload)
    return {
        "topic": str(letter.topic)[:MAX_TOPIC_CHARS],
        "payload": payload[:MAX_PAYLOAD_BYTES],
        "payload_size": min(_size(letter.payload_size, len(payload)), 2**31 - 1),
        "reason": letter.reason,
        "detail": str(letter.detail)[:MAX_DETAIL_CHARS],
        "device_address": _device(letter.device_address),
        "seq": _seq(letter.seq),
        "received_at": letter.received_at,
    }


def add_dead_letters(session: Session, letters: Iterable[NewDeadLetter]) -> int:
    """Insert dead letters in the caller's transaction (one statement); returns how many."""
    rows = [_row(letter) for letter in letters]
    if rows:
        session.execute(insert(cast(Table, DeadLetter.__table__)), rows)
    return len(rows)


def dead_letter_counts(session: Session) -> dict[str, int]:
    """Reason -> number of dead letters kept."""
    stmt = select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    return {reason: int(count) for reason, count in session.execute(stmt)}


def list_dead_letters(
    session: Session,
    *,
    reason: str | None = None,
    device_address: str | None = None,
    limit: int = 100,
) -> list[DeadLetter]:
    """The newest dead letters first, optionally of one reason and/or device."""
    if not 1 <= limit <= 10_000:
        raise StoreValueError("limit must be 1-10000")
    stmt = select(DeadLetter)
    if reason is not None:
        stmt = stmt.where(DeadLetter.reason == reason)
    if device_address is not None:
        device = _device(device_address)
        if device is None:
            raise StoreValueError(f"not a device address: {device_address!r}")
        stmt = stmt.where(DeadLetter.device_address == device)
    stmt = stmt.order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def purge_dead_letters(session: Session, older_than: datetime) -> int:
    """Delete dead letters received before `older_than` (retention); returns how many.

    A range on ix_dead_letters_received_at: the cost is the rows deleted, not the table.
    """
    if older_than.tzinfo is None:
        raise StoreValueError("older_than must be timezone-aware")
    result = session.execute(delete(DeadLetter).where(DeadLetter.received_at < older_than))
    return _rowcount(result)


def trim_dead_letters(session: Session, keep: int) -> int:
    """Delete all but the `keep` newest dead letters (by id) of each reason; returns how many
    were deleted.

    Per reason, so a flood of one reason (junk) cannot push out the evidence kept under another
    (`equivocation`, `store_refused`, `internal_error`); the table holds at most `keep` rows per
    reason, and the reasons are ours (a fixed set), never the sender's.

    On ix_dead_letters_reason_id, on PostgreSQL and SQLite alike, per reason: a seek to the next
    reason present, the id of its (keep+1)-th newest row (a backward walk of `keep` index
    entries), then a range delete of that reason's ids up to it. No count of the table, no sort,
    no per-row subquery: 2-3 short statements per reason.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise StoreValueError("keep must be a positive integer")
    deleted = 0
    reason: str | None = None
    while True:
        after = select(DeadLetter.reason)
        if reason is not None:
            after = after.where(DeadLetter.reason > reason)
        reason = session.scalar(after.order_by(DeadLetter.reason).limit(1))
        if reason is None:
            return deleted
        newest_dropped = session.scalar(
            select(DeadLetter.id)
            .where(DeadLetter.reason == reason)
            .order_by(DeadLetter.id.desc())
            .offset(keep)
            .limit(1)
        )
        if newest_dropped is not None:
            deleted += _rowcount(
                session.execute(
                    delete(DeadLetter).where(
                        DeadLetter.reason == reason, DeadLetter.id <= newest_dropped
                    )
                )
            )


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
