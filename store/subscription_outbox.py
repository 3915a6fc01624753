"""The subscriptions' outbox: which events a stream has read, the deliveries waiting for their
subscriber, and the row leases that let several workers send them without sending one twice.

Reading the stream: events are read by id, and only up to a watermark below which no event can
still appear. On SQLite writers are serialised and ids are never skipped; on PostgreSQL an id
is taken at insert and a transaction may commit after one that took a larger id, so a gap in
the ids is read past only once the event after it is `gap_wait` old (a gap that old is a
rolled-back insert). Deliveries of one subscription go out one at a time in id order: a worker
takes only the oldest pending delivery of a subscription, so a subscriber that was down gets
everything, in order, when it is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from store.errors import StoreValueError
from store.models import Delivery, Event, Subscription
from store.models.types import utcnow

_WATERMARK_SCAN = 5000


def safe_watermark(session: Session, start: int, *, gap_wait: timedelta) -> int:
    """The largest event id W >= start such that every event with an id <= W that will ever
    be committed is visible now (see the module's docstring)."""
    rows = session.execute(
        select(Event.id, Event.created_at)
        .where(Event.id > start)
        .order_by(Event.id)
        .limit(_WATERMARK_SCAN)
    ).all()
    settled = utcnow() - gap_wait
    mark = start
    for event_id, created_at in rows:
        if event_id != mark + 1 and created_at > settled:
            break  # a gap before a recent event: its insert may still commit
        mark = event_id
    return mark


def stream_subscriptions(session: Session) -> list[int]:
    """The row ids of the stream subscriptions with events to read (an event id above their
    cursor): an idle round costs one query, however many subscriptions there are."""
    latest = select(func.max(Event.id)).scalar_subquery()
    stmt = select(Subscription.id).where(
        Subscription.stream.is_(True), Subscription.cursor_event_id < latest
    )
    return list(session.scalars(stmt.order_by(Subscription.id)))


def due_schedules(session: Session) -> list[int]:
    """The row ids of the scheduled subscriptions whose next run is now or past."""
    stmt = select(Subscription.id).where(Subscription.next_run_at <= utcnow())
    return list(session.scalars(stmt.order_by(Subscription.next_run_at)))


def lock_subscription(session: Session, row_id: int) -> Subscription | None:
    """The subscription, locked for this transaction (PostgreSQL: None if another worker holds
    it; SQLite serialises writers instead)."""
    stmt = select(Subscription).where(Subscription.id == row_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def enqueue(
    session: Session,
    subscription: Subscription,
    event_ids: Sequence[int],
    cursor: int,
    *,
    if_empty: bool = False,
) -> Delivery | None:
    """A delivery of `event_ids` to the subscription (of none only if `if_empty`), which has
    read up to `cursor`."""
    if cursor < subscription.cursor_event_id:
        raise StoreValueError("a subscription's cursor never moves back")
    subscription.cursor_event_id = cursor
    if not event_ids and not if_empty:
        session.flush()
        return None
    now = utcnow()
    delivery = Delivery(
        delivery_id=str(uuid.uuid4()),
        subscription_id=subscription.id,
        event_ids=list(event_ids),
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds until `leased_until`: what sending it needs."""

    id: int
    delivery_id: str
    subscription_id: int
    event_ids: list[int]
    attempts: int
    leased_until: datetime


def claim_due(session: Session, worker: str, *, lease: timedelta, limit: int) -> list[Claimed]:
    """Up to `limit` deliveries due now, each the oldest pending one of its subscription and
    held by no live lease, leased to `worker` (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    now = utcnow()
    older = aliased(Delivery)
    earlier_pending = (
        select(older.id)
        .where(
            older.subscription_id == Delivery.subscription_id,
            older.delivered_at.is_(None),
            older.id < Delivery.id,
        )
        .exists()
    )
    stmt = (
        select(Delivery)
        .where(
            Delivery.delivered_at.is_(None),
            Delivery.next_attempt_at <= now,
            or_(Delivery.leased_until.is_(None), Delivery.leased_until < now),
            ~earlier_pending,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
    claimed: list[Claimed] = []
    until = now + lease
    for delivery in session.scalars(stmt):
        delivery.leased_by, delivery.leased_until = worker, until
        delivery.attempts += 1
        claimed.append(
            Claimed(
                delivery.id,
                delivery.delivery_id,
                delivery.subscription_id,
                list(delivery.event_ids),
                delivery.attempts,
                until,
            )
        )
    session.flush()
    return claimed


def _held(session: Session, claimed: Claimed, worker: str) -> Delivery | None:
    stmt = select(Delivery).where(
        Delivery.id == claimed.id,
        Delivery.leased_by == worker,
        Delivery.delivered_at.is_(None),
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def mark_delivered(
    session: Session, claimed: Claimed, worker: str, status: int | None, *, notified: bool = True
) -> bool:
    """The subscriber took the delivery (`notified`), or there was nothing left of it to send;
    False if the worker's lease had passed to another."""
    delivery = _held(session, claimed, worker)
    if delivery is None:
        return False
    now = utcnow()
    delivery.delivered_at, delivery.last_status, delivery.last_error = now, status, None
    delivery.leased_by = delivery.leased_until = None
    subscription = session.get(Subscription, delivery.subscription_id)
    if subscription is not None and notified:
        subscription.last_notified_at = now
    session.flush()
    return True


def mark_failed(
    session: Session,
    claimed: Claimed,
    worker: str,
    *,
    retry_in: timedelta,
    status: int | None,
    error: str,
) -> bool:
    """The attempt failed: try again after `retry_in`; False if the lease had passed on."""
    delivery = _held(session, claimed, worker)
    if delivery is None:
        return False
    delivery.next_attempt_at = utcnow() + retry_in
    delivery.last_status, delivery.last_error = status, error[:500]
    delivery.leased_by = delivery.leased_until = None
    session.flush()
    return True


def pending_of(session: Session, subscription_id: int) -> int:
    """How many deliveries of the subscription wait for their subscriber."""
    stmt = select(func.count()).where(
        Delivery.subscription_id == subscription_id, Delivery.delivered_at.is_(None)
    )
    return session.scalar(stmt) or 0


def pending_count(session: Session) -> int:
    """How many deliveries wait for their subscriber."""
    return session.scalar(select(func.count()).where(Delivery.delivered_at.is_(None))) or 0
