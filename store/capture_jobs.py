"""EPCIS capture in the store: capture jobs, and events recorded once per (kind, hash) with every
principal who captured them.

An event stored already is not stored again: a repeat by its capturer changes nothing, a repeat by
another principal adds them to event_capturers (the caller answers both like a first capture).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.epcis.hashed_event import HashedEvent
from store._validate import IN_CHUNK
from store.errors import DuplicateEventError
from store.models import CaptureJob, Event, EventCapturer
from store.models.types import utcnow
from store.recording import EventRow, record_events

# Capture ids: "id" and 32 hex digits, unguessable (a job is its capturer's only).
_ID_BYTES = 16


def _stored(session: Session, keys: Sequence[tuple[int, bytes]]) -> dict[tuple[int, bytes], Event]:
    found: dict[tuple[int, bytes], Event] = {}
    for start in range(0, len(keys), IN_CHUNK):
        chunk = keys[start : start + IN_CHUNK]
        hashes = [h for _, h in chunk]
        kinds = sorted({k for k, _ in chunk})
        # kind leads the unique (kind, event_hash) index: without it the lookup scans events.
        query = select(Event).where(Event.kind.in_(kinds), Event.event_hash.in_(hashes))
        for event in session.scalars(query):
            key = (int(event.kind), bytes(event.event_hash))
            if key in chunk:
                found[key] = event
    return found


def shipment_events_of(session: Session, hashes: Iterable[bytes]) -> dict[bytes, int]:
    """The shipment (its integer id) of each stored event (kind 0) of these hashes that was
    recorded on a shipment: a copy of it is the shipment's, whatever it names."""
    wanted = sorted(set(hashes))
    found: dict[bytes, int] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        query = select(Event.event_hash, Event.shipment_id).where(
            Event.kind == 0,
            Event.event_hash.in_(wanted[start : start + IN_CHUNK]),
            Event.shipment_id.is_not(None),
        )
        for digest, pk in session.execute(query):
            if pk is not None:
                found[bytes(digest)] = pk
    return found


def _add_capturer(session: Session, event: Event, principal_id: int) -> None:
    if event.recorded_by == principal_id:
        return
    if session.get(EventCapturer, (event.id, principal_id)) is None:
        try:
            with session.begin_nested():
                session.add(EventCapturer(event_id=event.id, principal_id=principal_id))
        except IntegrityError:
            pass  # a concurrent capture by the same principal recorded it first


def capture_events(session: Session, events: Iterable[HashedEvent], principal_id: int) -> list[int]:
    """Store `events` captured by `principal_id` in the caller's transaction: the stored id of
    each (in order; a repeat, in the call or in the store, gives the stored event's id)."""
    unique: dict[tuple[int, bytes], HashedEvent] = {}
    order: list[tuple[int, bytes]] = []
    for event in events:
        key = (event.kind, event.event_hash)
        order.append(key)
        unique.setdefault(key, event)
    keys = list(unique)
    for _attempt in range(3):  # a concurrent capture of the same event: look again
        stored = _stored(session, keys)
        new = [key for key in keys if key not in stored]
        rows: list[EventRow] = [{"event": unique[key], "recorded_by": principal_id} for key in new]
        try:
            ids = record_events(session, rows)
        except DuplicateEventError:
            continue
        for existing in stored.values():
            _add_capturer(session, existing, principal_id)
        by_key = {key: event.id for key, event in stored.items()}
        by_key.update(zip(new, ids, strict=True))
        return [by_key[key] for key in order]
    raise DuplicateEventError(*keys[0], 0)


def captured_by(session: Session, event_hash: bytes, principal_id: int) -> bool | None:
    """Whether the principal recorded or captured the stored event (kind 0) of this hash; None
    when no such event is stored."""
    event = session.scalar(select(Event).where(Event.kind == 0, Event.event_hash == event_hash))
    if event is None:
        return None
    if event.recorded_by == principal_id:
        return True
    return session.get(EventCapturer, (event.id, principal_id)) is not None


def new_job(
    session: Session,
    principal_id: int,
    *,
    behaviour: str,
    event_count: int,
    errors: list[dict[str, Any]],
) -> CaptureJob:
    """A finished capture job (capture runs inside the request), flushed in the caller's
    transaction."""
    now = utcnow()
    job = CaptureJob(
        capture_id="id" + secrets.token_hex(_ID_BYTES),
        principal_id=principal_id,
        created_at=now,
        finished_at=now,
        running=False,
        success=not errors,
        error_behaviour=behaviour,
        event_count=event_count,
        errors=errors,
    )
    session.add(job)
    session.flush()
    return job


def job_of(session: Session, principal_id: int, capture_id: str) -> CaptureJob | None:
    """The principal's capture job `capture_id`; None for another's or an unknown one."""
    return session.scalar(
        select(CaptureJob).where(
            CaptureJob.capture_id == capture_id, CaptureJob.principal_id == principal_id
        )
    )


def jobs_of(
    session: Session, principal_id: int, *, limit: int, before: int | None = None
) -> list[CaptureJob]:
    """The principal's capture jobs, newest first; `before`: only jobs with a smaller row id."""
    query = select(CaptureJob).where(CaptureJob.principal_id == principal_id)
    if before is not None:
        query = query.where(CaptureJob.id < before)
    return list(session.scalars(query.order_by(CaptureJob.id.desc()).limit(limit)))


__all__ = ["capture_events", "captured_by", "job_of", "jobs_of", "new_job"]
