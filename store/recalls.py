"""Recalls: which captured events are the prefix's brand recalling an item, a lot or a product,
and the standing recall of one item (docs/recalls.md).

A recall (core.epcis.consumer_facts.is_recall) counts only when the brand holding the GTIN's
company prefix captured it; its subjects are kept in `recalls` when it is stored. It stands until
that brand declares the recall event an error (an EPCIS errorDeclaration of the same event, which
only its capturer records): a later event with another disposition does not lift it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from core.epcis.consumer_facts import Subject, is_recall, named_subjects
from core.epcis.hashed_event import HashedEvent
from core.verdict import RecallFacts
from store.models import Brand, Event, EventCapturer, Item, Recall


def prefix_of(gtin14: str, prefixes: Iterable[str]) -> str | None:
    """The longest of `prefixes` the GTIN-14 starts with (after its indicator digit)."""
    held = [p for p in prefixes if gtin14[1 : 1 + len(p)] == p]
    return max(held, key=len, default=None)


def recall_subjects(event_json: str, prefix: str, prefixes: Sequence[str]) -> list[Subject]:
    """The subjects under `prefix` (as their longest of `prefixes`) a recall event names; none
    for an event that is no recall."""
    body = json.loads(event_json)
    if not isinstance(body, dict) or not is_recall(body):
        return []
    found = [n.subject for n in named_subjects(body) if n.subject is not None]
    return list(dict.fromkeys(s for s in found if prefix_of(s.gtin, prefixes) == prefix))


def record_recalls(
    session: Session, principal_id: int, stored: Iterable[tuple[int, HashedEvent]]
) -> int:
    """Keep the subjects of the recalls among `stored` (event id, event) that `principal_id`
    captured as the brand holding their prefix (in the caller's transaction); how many."""
    brand = session.scalar(select(Brand).where(Brand.principal_id == principal_id))
    if brand is None:
        return 0
    prefixes = list(session.scalars(select(Brand.company_prefix)))
    added = 0
    for event_id, hashed in stored:
        if hashed.kind != 0:
            continue
        subjects = recall_subjects(hashed.event_json, brand.company_prefix, prefixes)
        kept = select(Recall.id).where(
            Recall.event_id == event_id, Recall.recorded_by == principal_id
        )
        if not subjects or session.scalar(kept.limit(1)) is not None:
            continue  # no recall of the brand's, or this capture repeats one already kept
        for subject in subjects:
            session.add(
                Recall(
                    event_id=event_id,
                    gtin=subject.gtin,
                    serial=subject.serial,
                    lot=subject.lot,
                    recalled_at_ms=hashed.event_time_ms,
                    recorded_by=principal_id,
                )
            )
            added += 1
    session.flush()
    return added


def _declared_by_recorder() -> Exists:
    """Whether the recall's event has an errorDeclaration its recorder recorded or captured."""
    recalled, declaration = aliased(Event), aliased(Event)
    captured = exists().where(
        EventCapturer.event_id == declaration.id,
        EventCapturer.principal_id == Recall.recorded_by,
    )
    return exists().where(
        recalled.id == Recall.event_id,
        declaration.kind == 1,
        declaration.event_hash == recalled.event_hash,
        or_(declaration.recorded_by == Recall.recorded_by, captured),
    )


def standing_recall(session: Session, item: Item, prefix: str) -> RecallFacts | None:
    """The earliest recall of `item` (itself, its lot or its product) the brand holding
    `prefix` recorded and has not declared an error; None if there is none."""
    brand = session.scalar(select(Brand.principal_id).where(Brand.company_prefix == prefix))
    if brand is None:
        return None
    scopes = [and_(Recall.serial.is_(None), Recall.lot.is_(None)), Recall.serial == item.serial]
    if item.lot is not None:
        scopes.append(and_(Recall.serial.is_(None), Recall.lot == item.lot))
    query = (
        select(Recall)
        .where(
            Recall.gtin == item.product.gtin,
            Recall.recorded_by == brand,
            or_(*scopes),
            ~_declared_by_recorder(),
        )
        .order_by(Recall.recalled_at_ms, Recall.id)
        .limit(1)
    )
    found = session.scalar(query)
    if found is None:
        return None
    subject = Subject(found.gtin, found.serial, found.lot)
    return RecallFacts(found.recalled_at_ms // 1000, subject.scope, found.lot)
