"""Where a captured EPCIS event goes: through a shipment's rules, into a commissioning draft for
its brand to sign, or into the generic store.

Write rights (DESIGN.md "Public and private views"): an event naming a chaintrace shipment is
checked and recorded by api.shipment_recording, exactly as POST /shipments/{id}/events does; a
commissioning (action ADD, bizStep commissioning) becomes a draft (api.capture_commissioning);
an event stating a consumer-facing fact (recalled, decommissioned, sold) is taken only from the
brand holding its GTINs' prefix or an item's custodian (api.consumer_fact_rights), and a recall
by that brand is kept as one (store.recalls); the events of a document are taken in order, as if
posted one by one, in the request's one transaction. Under all-or-nothing the first refusal
refuses the whole document (its status: 403, 404, 409 or 422, naming the event's index); under
`proceed` each refused event is rolled back to its savepoint and listed in the job. The very
same shipment event captured again is a repeat (answered like a first capture, nothing new
stored), where the dedicated endpoint answers 409.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.capture_commissioning import draft_from_event
from api.consumer_fact_rights import refused_fact
from api.epcis_problem import RightsRefused
from api.errors import ApiError, FieldError, NotFound
from api.settings import ApiSettings
from api.shipment_recording import record_on_shipment
from api.state import ChainAccess
from core.epcis.capture_document import CaptureProblem, CheckedDocument
from core.epcis.capture_rights import is_commissioning, shipment_reference
from core.epcis.hashed_event import HashedEvent
from store.capture_jobs import capture_events, captured_by, shipment_events_of
from store.errors import DuplicateEventError, NotFoundError
from store.models import Principal, Shipment
from store.recalls import record_recalls
from store.shipment_access import visible_shipment

Loc = list[str | int]


@dataclass
class Captured:
    """What a capture stored: each event's stored id by index, the commissioning drafts made
    (by index), and the refused events."""

    ids: dict[int, int] = field(default_factory=dict)
    drafts: dict[int, dict[str, Any]] = field(default_factory=dict)
    problems: list[CaptureProblem] = field(default_factory=list)


def loc_of(pointer: str) -> Loc:
    """A JSON pointer's parts as a 422 loc (array indexes as ints)."""
    parts = pointer.split("/")[1:] if pointer else []
    return [int(p) if p.isdigit() else p.replace("~1", "/").replace("~0", "~") for p in parts]


def _pointer(loc: Sequence[str | int]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


class _Refused(Exception):
    def __init__(self, error: ApiError, pointer: str) -> None:
        self.error, self.pointer = error, pointer


def _on_shipment(
    session: Session,
    principal: Principal,
    event: dict[str, Any],
    copy_of: int | None,
    where: Loc,
    max_backdate: timedelta,
) -> int | None:
    """The stored id of a shipment event recorded by the shipment's rules (0: nothing stored,
    answered like a first capture); None if it is no shipment's. `copy_of`: the shipment a
    stored event of the same hash was recorded on."""
    named = shipment_reference(event)
    if named is None:
        if copy_of is None:
            return None
        return _copy_on_shipment(session, principal, event, copy_of, where, max_backdate)
    pointer, shipment_id = named
    if shipment_id is None:
        raise _Refused(
            FieldError(
                [*where, *loc_of(pointer)],
                "names a chaintrace shipment outside bizTransactionList: an event is recorded "
                "on the shipment its bizTransactionList names (urn:chaintrace:shipment:<id>)",
            ),
            pointer,
        )
    try:
        shipment = visible_shipment(session, principal, shipment_id)
        return _record(session, principal, shipment, event, where, max_backdate)
    except NotFoundError as exc:
        raise _Refused(NotFound(str(exc)), pointer) from None
    except ApiError as exc:
        raise _Refused(exc, pointer) from None


def _copy_on_shipment(
    session: Session,
    principal: Principal,
    event: dict[str, Any],
    shipment_pk: int,
    where: Loc,
    max_backdate: timedelta,
) -> int:
    """An event that names no shipment but is (or declares) a stored shipment event: POST
    /shipments/{id}/events records a full event without requiring it to name the shipment.
    Such a copy is the shipment's, checked by its rules for a party; from anyone else it is
    answered like a first capture and nothing is stored (0): neither a capturer of the
    shipment's event nor its correction (which would take the place of the capturer's own)."""
    shipment = session.get(Shipment, shipment_pk)
    try:
        if shipment is None:
            raise NotFoundError("no such shipment")
        shipment = visible_shipment(session, principal, shipment.shipment_id)
    except NotFoundError:
        return 0
    try:
        return _record(session, principal, shipment, event, where, max_backdate)
    except ApiError as exc:
        raise _Refused(exc, "") from None


def _record(
    session: Session,
    principal: Principal,
    shipment: Shipment,
    event: dict[str, Any],
    where: Loc,
    max_backdate: timedelta,
) -> int:
    try:
        with session.begin_nested():
            step = record_on_shipment(
                session, principal, shipment, event, max_backdate=max_backdate, where=where
            )
    except DuplicateEventError as exc:
        # The very same event on this shipment again: the binding's repeat, not an error.
        return exc.existing_event_id
    return step.event.id


def _commissioning(
    session: Session,
    principal: Principal,
    chain: ChainAccess,
    settings: ApiSettings,
    event: dict[str, Any],
    where: Loc,
) -> dict[str, Any]:
    try:
        with session.begin_nested():
            return draft_from_event(session, principal, chain, settings, event, where)
    except ApiError as exc:
        raise _Refused(exc, "/epcList") from None


def _check_facts(session: Session, principal: Principal, event: dict[str, Any], where: Loc) -> None:
    """Refuse a consumer-facing fact the caller may not state (api.consumer_fact_rights)."""
    refused = refused_fact(session, principal, event)
    if refused is not None:
        loc, reason = refused
        raise _Refused(FieldError([*where, *loc], reason), _pointer(loc))


def _may_declare(
    session: Session,
    principal: Principal,
    hashed: HashedEvent,
    earlier: Sequence[tuple[int, HashedEvent]],
) -> bool:
    """Whether an errorDeclaration is recorded: it corrects an event its sender captured
    (stored, or earlier in the same document), or one not stored here (it corrects nothing
    here). A declaration of another's stored event is not recorded, and answered like a first
    capture, as a declaration of an unknown event is: the answer tells nothing of the event."""
    if any(e.kind == 0 and e.event_hash == hashed.event_hash for _, e in earlier):
        return True
    return captured_by(session, hashed.event_hash, principal.id) is not False


def _located(refused: _Refused, index: int | None, where: Loc) -> ApiError:
    """The refusal as the request's answer, naming the event's index (a field's refusal is the
    write rights' 422 with its field list, api/epcis_problem.py)."""
    error = refused.error
    if isinstance(error, FieldError):
        loc = error.loc if error.loc[: len(where)] == where else [*where, *error.loc]
        return RightsRefused(loc, error.msg)
    if index is None or not isinstance(error.detail, str):
        return error
    located = type(error)(f"event {index}: {error.detail}")
    located.headers = error.headers
    return located


def _problem(refused: _Refused, index: int, where: Loc) -> CaptureProblem:
    error = refused.error
    if isinstance(error, FieldError):
        loc = error.loc[len(where) :] if error.loc[: len(where)] == where else error.loc
        return CaptureProblem(index, _pointer(loc), error.msg)
    return CaptureProblem(index, refused.pointer, f"{error.status_code}: {error.detail}")


def capture_in_order(
    session: Session,
    principal: Principal,
    checked: CheckedDocument,
    *,
    where: Loc,
    single: bool,
    proceed: bool,
    settings: ApiSettings,
    chain: ChainAccess,
) -> Captured:
    """Record the valid events of `checked` in document order, in the caller's transaction.

    `where` is the loc of the event list in the request (a single event's: the body itself).
    Raises the first refusal as the answer unless `proceed`.
    """
    captured = Captured()
    generic: list[tuple[int, HashedEvent]] = []
    copies = shipment_events_of(session, [e.event_hash for e in checked.events.values()])
    for index, hashed in sorted(checked.events.items()):
        event_where = where if single else [*where, index]
        event = json.loads(hashed.event_json)
        try:
            _check_facts(session, principal, event, event_where)
            stored = _on_shipment(
                session,
                principal,
                event,
                copies.get(hashed.event_hash),
                event_where,
                settings.event_max_backdate,
            )
            if stored:
                captured.ids[index] = stored
            elif stored == 0:
                continue
            elif is_commissioning(event):
                captured.drafts[index] = _commissioning(
                    session, principal, chain, settings, event, event_where
                )
            elif hashed.kind == 0 or _may_declare(session, principal, hashed, generic):
                generic.append((index, hashed))
        except _Refused as refused:
            if not proceed:
                raise _located(refused, None if single else index, event_where) from None
            captured.problems.append(_problem(refused, index, event_where))
    ids = capture_events(session, [hashed for _, hashed in generic], principal.id)
    captured.ids.update(zip([index for index, _ in generic], ids, strict=True))
    record_recalls(session, principal.id, zip(ids, [hashed for _, hashed in generic], strict=True))
    return captured
