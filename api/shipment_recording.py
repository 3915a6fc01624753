"""Recording an event on a shipment: the one set of checks and writes behind every endpoint.

POST /shipments/{id}/events and the EPCIS capture (POST /epcis/capture, POST /epcis/events, for an
event naming a chaintrace shipment) both call `record_on_shipment`: the carrier ships and arrives,
only the consignee receives; each step once per shipment (its time is the settlement's: the
shipping event opens the window, the receiving closes it), at a time neither more than
EVENT_MAX_BACKDATE_SECONDS in the past nor more than CLOCK_SKEW in the future, arriving and
receiving not before the shipping. An errorDeclaration only corrects an event its sender recorded
on the shipment. EPCIS sensor data is refused on a shipment: only device-signed readings count for
settlement. Nothing is committed here: the caller commits (one transaction per request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.catalog import epc_of
from api.consumer_fact_rights import refused_fact
from api.errors import Conflict, FieldError, Forbidden
from api.schemas.events import MinimalEventIn
from core.epcis import EpcisError
from core.epcis.events import (
    SHIPMENT_URN,
    iso_ms,
    packing_event,
    parse_time,
    shipment_event,
    short_biz_step,
    to_ms,
)
from core.epcis.hashed_event import HashedEvent
from store import record_event
from store.custody import missing_consent
from store.errors import DuplicateEventError
from store.models import Event, Principal, Shipment, ShipmentStatus
from store.models.types import utcnow
from store.readings import file_unfiled
from store.shipment_access import is_party
from store.shipments import can_transition, lock_shipment, set_shipment_status, step_events

_LOGGER = logging.getLogger(__name__)
# How far ahead of the API's clock an eventTime may be: the sender's clock may run a little fast.
CLOCK_SKEW = timedelta(seconds=60)
_STATUS_AFTER = {
    "shipping": ShipmentStatus.SHIPPING,
    "arriving": ShipmentStatus.ARRIVED,
    "receiving": ShipmentStatus.RECEIVED,
}
_CLOSED = frozenset({ShipmentStatus.ATTESTED, ShipmentStatus.SETTLED, ShipmentStatus.REFUNDED})


Loc = Sequence[str | int]


@dataclass(frozen=True)
class RecordedStep:
    """An event recorded on a shipment (flushed, not committed)."""

    event: Event
    hashed: HashedEvent
    biz_step: str
    moment: datetime
    shipment: Shipment


def _check_role(shipment: Shipment, principal: Principal, biz_step: str) -> None:
    """Carrier: shipping and arriving; consignee: receiving; nobody anything else."""
    if not is_party(shipment, principal):
        # Only overseers (admin, auditor) get here without being a party: they see it, not write.
        raise Forbidden("you are not a party to this shipment")
    if biz_step in ("shipping", "arriving"):
        if principal.id != shipment.carrier_principal_id:
            raise Forbidden(f"only the shipment's carrier records {biz_step}")
    elif biz_step == "receiving":
        if principal.id != shipment.consignee_principal_id:
            raise Forbidden("only the shipment's consignee records receiving")
    else:
        raise Forbidden(f"bizStep {biz_step!r} is not one a partner records on a shipment")


def _minimal(
    body: dict[str, Any], shipment: Shipment, principal: Principal, where: Loc
) -> dict[str, Any]:
    try:
        parsed = MinimalEventIn.model_validate(body)
    except ValidationError as exc:
        errors = [{**e, "loc": (*where, *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    _check_role(shipment, principal, parsed.biz_step)
    event_time = parsed.event_time or utcnow()
    if event_time.tzinfo is None:
        raise FieldError([*where, "eventTime"], "must carry a UTC offset (e.g. Z)")
    return shipment_event(
        parsed.biz_step,
        [epc_of(item) for item in shipment.items],
        event_time,
        shipment.shipment_id,
        read_point=parsed.read_point,
        biz_location=parsed.biz_location,
        gps=(parsed.gps.lat, parsed.gps.lon) if parsed.gps else None,
    )


def _full(
    event: dict[str, Any], shipment: Shipment, principal: Principal, where: Loc
) -> dict[str, Any]:
    biz_step = short_biz_step(event.get("bizStep"))
    if biz_step is None:
        raise FieldError([*where, "bizStep"], "a shipment event needs a CBV bizStep")
    _check_role(shipment, principal, biz_step)
    if event.get("type") != "ObjectEvent":
        raise FieldError([*where, "type"], "only ObjectEvent is accepted on a shipment")
    if "sensorElementList" in event:
        raise FieldError(
            [*where, "sensorElementList"],
            "EPCIS sensor data never counts for a shipment's settlement (only readings signed "
            "by its devices do): record the step without sensorElementList",
        )
    epcs = event.get("epcList")
    if not isinstance(epcs, list) or not epcs:
        raise FieldError([*where, "epcList"], "must list the shipment's items")
    allowed = {epc_of(item) for item in shipment.items}
    for index, epc in enumerate(epcs):
        if not isinstance(epc, str):
            raise FieldError([*where, "epcList", index], "must be an EPC URI string")
        if epc not in allowed:
            raise FieldError([*where, "epcList", index], f"{epc!r} is not an item of the shipment")
    transactions = event.get("bizTransactionList")
    for index, entry in enumerate(transactions if isinstance(transactions, list) else []):
        named = entry.get("bizTransaction") if isinstance(entry, dict) else None
        # Case-insensitive: the "urn" scheme and the NID are (RFC 8141), and the id is hex.
        if (
            isinstance(named, str)
            and named.lower().startswith(SHIPMENT_URN.lower())
            and named[len(SHIPMENT_URN) :].lower() != shipment.shipment_id.lower()
        ):
            raise FieldError(
                [*where, "bizTransactionList", index],
                "names another chaintrace shipment: an event names only the shipment it is "
                "recorded on",
            )
    return event


def _event_time(event: dict[str, Any], where: Loc) -> datetime:
    try:
        return parse_time(event["eventTime"])
    except EpcisError as exc:
        raise FieldError([*where, "eventTime"], str(exc)) from None


def _seconds(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"


def _check_time(
    biz_step: str,
    moment: datetime,
    shipment: Shipment,
    session: Session,
    backdate: timedelta,
    where: Loc,
) -> None:
    """The event-time rules of a settlement-relevant step (422 naming eventTime)."""
    now = utcnow()
    loc = [*where, "eventTime"]
    if moment > now + CLOCK_SKEW:
        raise FieldError(
            loc,
            f"must not be in the future (it is {iso_ms(moment)}, the API's clock {iso_ms(now)}; "
            f"{_seconds(CLOCK_SKEW)} of clock skew are allowed)",
        )
    if moment < now - backdate:
        raise FieldError(
            loc,
            f"must not be more than {_seconds(backdate)} in the past "
            f"(EVENT_MAX_BACKDATE_SECONDS): record {biz_step} when it happens",
        )
    if biz_step in ("arriving", "receiving"):
        shipped = step_events(session, shipment, "shipping")
        if shipped and to_ms(moment) < shipped[0].event_time_ms:
            raise FieldError(
                loc,
                f"must not be before the shipment's shipping event "
                f"({json.loads(shipped[0].event_json).get('eventTime')})",
            )


def _check_once(session: Session, shipment: Shipment, biz_step: str, digest: bytes) -> None:
    """Each step once per shipment: 409 for a second (the same event again: its eventId)."""
    recorded = step_events(session, shipment, biz_step)
    if not recorded:
        return
    first = recorded[0]
    if bytes(first.event_hash) == digest:
        raise DuplicateEventError(0, digest, first.id)
    raise Conflict(
        f"the shipment already has its {biz_step} event (event {first.id}): each of shipping, "
        f"arriving and receiving is recorded once per shipment; a wrong one can be declared "
        f"erroneous (errorDeclaration), not replaced"
    )


def _check_correction(
    session: Session,
    shipment: Shipment,
    principal: Principal,
    biz_step: str,
    digest: bytes,
    where: Loc,
) -> None:
    """An errorDeclaration must declare an event the caller recorded on this shipment."""
    if not any(
        bytes(e.event_hash) == digest and e.recorded_by == principal.id
        for e in step_events(session, shipment, biz_step)
    ):
        raise FieldError(
            [*where, "errorDeclaration"],
            "declares no event you recorded on this shipment: only an event's capturer "
            "corrects it, and the declaration must repeat the event it corrects",
        )


def record_on_shipment(
    session: Session,
    principal: Principal,
    shipment: Shipment,
    body: dict[str, Any],
    *,
    max_backdate: timedelta,
    where: Loc = ("body",),
) -> RecordedStep:
    """Check `body` (a full EPCIS ObjectEvent, or the minimal form) against the shipment's rules
    and record it: status, shipping window and reading filing move as the step says.

    `where` is the location of the event in the request, for the 422s' loc. Raises the API's
    errors (403, 409, 422) and DuplicateEventError for the very same event recorded here again.
    """
    if missing_consent(session, shipment):
        # Funded on chain past the API's custody gate, it still writes no journey onto the
        # items' public pages without their holders' consent.
        raise Conflict("the custodians of the listed items have not approved this shipment")
    event = (
        _full(body, shipment, principal, where)
        if "type" in body
        else _minimal(body, shipment, principal, where)
    )
    if (refused := refused_fact(session, principal, event)) is not None:
        raise FieldError([*where, *refused[0]], refused[1])  # a consumer-facing fact: not theirs
    biz_step = short_biz_step(event.get("bizStep")) or ""
    # Held to the commit: two requests recording the same step cannot both find it missing.
    lock_shipment(session, shipment)
    if shipment.status in _CLOSED:
        raise Conflict(f"the shipment is {shipment.status.value}: no more events")
    try:
        hashed = HashedEvent.of(event)
    except EpcisError as exc:
        raise FieldError(list(where), f"not a valid EPCIS 2.0 event: {exc}") from None
    digest, kind = hashed.event_hash, hashed.kind
    moment = _event_time(event, where)
    target = _STATUS_AFTER[biz_step]
    if kind == 1:
        # A correction is not a new step: it moves no status and its time is the event's own.
        _check_correction(session, shipment, principal, biz_step, digest, where)
    else:
        if shipment.status is not target and not can_transition(shipment.status, target):
            raise Conflict(
                f"the shipment is already {shipment.status.value}: cannot record {biz_step}"
            )
        _check_once(session, shipment, biz_step, digest)
        _check_time(biz_step, moment, shipment, session, max_backdate, where)
    named = set(event["epcList"])
    if kind == 0 and biz_step == "shipping":
        _pack(session, principal, shipment, event, moment)
    try:
        stored = record_event(
            session,
            hashed,
            recorded_by=principal.id,
            shipment_id=shipment.id,
            item_ids=[item.id for item in shipment.items if epc_of(item) in named],
        )
    except DuplicateEventError as exc:
        if _shipment_of_event(session, exc.existing_event_id) == shipment.id:
            raise
        # The same event is stored elsewhere (another shipment, maybe another party's): its id
        # and whereabouts are not the caller's to learn.
        raise Conflict(
            "an identical EPCIS event is already recorded elsewhere: an event is stored once"
        ) from None
    if kind == 0 and shipment.status is not target:
        set_shipment_status(session, shipment, target)
    if kind == 0 and biz_step == "shipping":  # the carrier takes the shipment on from then
        file_unfiled(session, shipment.id, [d.address for d in shipment.devices], to_ms(moment))
    return RecordedStep(stored, hashed, biz_step, moment, shipment)


def _pack(
    session: Session,
    principal: Principal,
    shipment: Shipment,
    shipping: dict[str, Any],
    at: datetime,
) -> None:
    """Record the packing into the shipment's container of the items its shipping names, beside
    it (same time and readPoint, the same principal, the same transaction): one per shipment,
    none for a shipment without a container (created before them)."""
    container = shipment.container_epc
    if container is None or step_events(session, shipment, "packing"):
        return
    named = set(shipping["epcList"])
    items = [item for item in shipment.items if epc_of(item) in named]
    read_point = shipping.get("readPoint")
    point = read_point.get("id") if isinstance(read_point, dict) else None
    packing = packing_event(
        container,
        [epc_of(item) for item in items],
        at,
        shipment.shipment_id,
        read_point=point if isinstance(point, str) else None,
    )
    try:
        record_event(
            session,
            HashedEvent.of(packing),
            recorded_by=principal.id,
            shipment_id=shipment.id,
            item_ids=[item.id for item in items],
        )
    except DuplicateEventError:
        # Its container is the shipment's alone: the packing stored is this shipment's own.
        _LOGGER.info("shipment %d: packing already recorded", shipment.id)


def _shipment_of_event(session: Session, event_id: int) -> int | None:
    stored = session.get(Event, event_id)
    return None if stored is None else stored.shipment_id
