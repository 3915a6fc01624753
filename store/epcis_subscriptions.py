"""EPCIS named queries and their webhook subscriptions: each belongs to the principal that
created it, and another principal's is the same as none (names are unique per principal, so
a name taken by another principal is neither a conflict nor a hint that it exists)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import StoreError, StoreValueError
from store.models import Delivery, Event, NamedQuery, Subscription
from store.models.types import utcnow

# Per principal: enough for any integration, few enough that the delivery worker's rounds stay
# bounded whatever one key does.
MAX_QUERIES = 100
MAX_SUBSCRIPTIONS = 100
# Events recorded this long before initialRecordTime cannot be in the stream (ids are taken in
# insertion order; a transaction open this long while another commits is the worst case).
_ID_ORDER_SLACK = timedelta(minutes=10)


class NameTaken(StoreError):
    """The principal already has a named query of that name."""


class TooMany(StoreError):
    """The principal holds the most named queries or subscriptions allowed."""


def query_of(session: Session, principal_id: int, name: str) -> NamedQuery | None:
    """The principal's named query `name`; None for another's or an unknown one."""
    return session.scalar(
        select(NamedQuery).where(NamedQuery.principal_id == principal_id, NamedQuery.name == name)
    )


def queries_of(
    session: Session, principal_id: int, *, limit: int, after: int | None = None
) -> list[NamedQuery]:
    """The principal's named queries in creation order; `after`: row ids above it only."""
    stmt = select(NamedQuery).where(NamedQuery.principal_id == principal_id)
    if after is not None:
        stmt = stmt.where(NamedQuery.id > after)
    return list(session.scalars(stmt.order_by(NamedQuery.id).limit(limit)))


def create_query(
    session: Session, principal_id: int, name: str, params: dict[str, Any]
) -> NamedQuery:
    """A new named query of the principal, flushed; NameTaken if it has one of that name."""
    count = session.scalar(select(func.count()).where(NamedQuery.principal_id == principal_id))
    if (count or 0) >= MAX_QUERIES:
        raise TooMany(f"at most {MAX_QUERIES} named queries per principal")
    query = NamedQuery(principal_id=principal_id, name=name, params=params)
    try:
        with session.begin_nested():
            session.add(query)
            session.flush()
    except IntegrityError:
        raise NameTaken(f"you already have a named query {name!r}") from None
    return query


def delete_query(session: Session, query: NamedQuery) -> None:
    """Remove the query, its subscriptions and their pending deliveries."""
    subscriptions = select(Subscription.id).where(Subscription.query_id == query.id)
    session.execute(delete(Delivery).where(Delivery.subscription_id.in_(subscriptions)))
    session.execute(delete(Subscription).where(Subscription.query_id == query.id))
    session.delete(query)
    session.flush()


def subscription_of(
    session: Session, query: NamedQuery, subscription_id: str
) -> Subscription | None:
    """The query's subscription `subscription_id`, else None."""
    return session.scalar(
        select(Subscription).where(
            Subscription.query_id == query.id, Subscription.subscription_id == subscription_id
        )
    )


def subscriptions_of(
    session: Session, query: NamedQuery, *, limit: int, after: int | None = None
) -> list[Subscription]:
    """The query's subscriptions in creation order; `after`: row ids above it only."""
    stmt = select(Subscription).where(Subscription.query_id == query.id)
    if after is not None:
        stmt = stmt.where(Subscription.id > after)
    return list(session.scalars(stmt.order_by(Subscription.id).limit(limit)))


def subscribe(
    session: Session,
    query: NamedQuery,
    *,
    dest: str,
    signature_token: str | None,
    report_if_empty: bool,
    initial_record_time: datetime | None,
    schedule: dict[str, str] | None = None,
    next_run_at: datetime | None = None,
) -> Subscription:
    """A new subscription to the query, flushed: it reports the events recorded from
    `initial_record_time` (default: now) on, as they are recorded (no `schedule`) or at each
    run of its schedule (the first at `next_run_at`)."""
    if (schedule is None) != (next_run_at is None):
        raise StoreValueError("a scheduled subscription has its next run, a stream none")
    count = session.scalar(
        select(func.count()).where(Subscription.principal_id == query.principal_id)
    )
    if (count or 0) >= MAX_SUBSCRIPTIONS:
        raise TooMany(f"at most {MAX_SUBSCRIPTIONS} subscriptions per principal")
    start = initial_record_time or utcnow()
    # Where the stream starts reading: below every event recorded at or after `start`.
    before = session.scalar(
        select(func.max(Event.id)).where(Event.created_at < start - _ID_ORDER_SLACK)
    )
    subscription = Subscription(
        subscription_id=str(uuid.uuid4()),
        query_id=query.id,
        principal_id=query.principal_id,
        dest=dest,
        signature_token=signature_token,
        report_if_empty=report_if_empty,
        stream=schedule is None,
        schedule=schedule,
        next_run_at=next_run_at,
        initial_record_time=start,
        cursor_event_id=before or 0,
    )
    session.add(subscription)
    session.flush()
    return subscription


def unsubscribe(session: Session, subscription: Subscription) -> None:
    """Remove the subscription and its pending deliveries."""
    session.execute(delete(Delivery).where(Delivery.subscription_id == subscription.id))
    session.delete(subscription)
    session.flush()
