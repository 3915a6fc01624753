"""EPCIS events on a shipment: the carrier ships and arrives, only the consignee receives."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Body, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.catalog import epc_of
from api.deps import CurrentPrincipal, SessionDep
from api.epcis_events import dump, iso_ms, parse_time, shipment_event, short_biz_step, to_ms
from api.errors import Conflict, FieldError, Forbidden
from api.finality import PENDING, finality_of
from api.schemas.events import EventRecorded, MinimalEventIn, ShipmentEventPublic
from api.shipment_store import is_party, visible_shipment
from core.epcis import EpcisError, event_hash, event_hash_ni, is_error_declaration
from core.merkle import leaf_hash
from store import record_event
from store.models import Principal, Shipment, ShipmentStatus
from store.models.types import utcnow
from store.queries import shipment_events
from store.shipments import can_transition, set_shipment_status

router = APIRouter(prefix="/shipments", tags=["events"])

_MAX_FUTURE = timedelta(minutes=5)
_STATUS_AFTER = {
    "shipping": ShipmentStatus.SHIPPING,
    "arriving": ShipmentStatus.ARRIVED,
    "receiving": ShipmentStatus.RECEIVED,
}
_CLOSED = frozenset({ShipmentStatus.ATTESTED, ShipmentStatus.SETTLED, ShipmentStatus.REFUNDED})

_BODY_DOC = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/MinimalEventIn"},
                        {
                            "type": "object",
                            "description": "A full EPCIS 2.0 ObjectEvent (JSON-LD); 'type' "
                            "marks it. Its epcList must name the shipment's items.",
                            "required": ["type", "eventTime", "bizStep", "epcList"],
                        },
                    ]
                }
            }
        },
        "required": True,
    }
}


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


def _minimal(body: dict[str, Any], shipment: Shipment, principal: Principal) -> dict[str, Any]:
    try:
        parsed = MinimalEventIn.model_validate(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    _check_role(shipment, principal, parsed.biz_step)
    now = utcnow()
    event_time = parsed.event_time or now
    if event_time.tzinfo is None:
        raise FieldError(["body", "eventTime"], "must carry a UTC offset (e.g. Z)")
    if event_time > now + _MAX_FUTURE:
        raise FieldError(["body", "eventTime"], "must not be in the future")
    return shipment_event(
        parsed.biz_step,
        [epc_of(item) for item in shipment.items],
        event_time,
        shipment.shipment_id,
        read_point=parsed.read_point,
        biz_location=parsed.biz_location,
        gps=(parsed.gps.lat, parsed.gps.lon) if parsed.gps else None,
    )


def _full(event: dict[str, Any], shipment: Shipment, principal: Principal) -> dict[str, Any]:
    biz_step = short_biz_step(event.get("bizStep"))
    if biz_step is None:
        raise FieldError(["body", "bizStep"], "a shipment event needs a CBV bizStep")
    _check_role(shipment, principal, biz_step)
    if event.get("type") != "ObjectEvent":
        raise FieldError(["body", "type"], "only ObjectEvent is accepted on a shipment")
    epcs = event.get("epcList")
    if not isinstance(epcs, list) or not epcs:
        raise FieldError(["body", "epcList"], "must list the shipment's items")
    allowed = {epc_of(item) for item in shipment.items}
    for index, epc in enumerate(epcs):
        if not isinstance(epc, str):
            raise FieldError(["body", "epcList", index], "must be an EPC URI string")
        if epc not in allowed:
            raise FieldError(["body", "epcList", index], f"{epc!r} is not an item of the shipment")
    return event


def _event_time(event: dict[str, Any]) -> tuple[str, int]:
    try:
        moment = parse_time(event["eventTime"])
    except EpcisError as exc:
        raise FieldError(["body", "eventTime"], str(exc)) from None
    if moment > utcnow() + _MAX_FUTURE:
        raise FieldError(["body", "eventTime"], "must not be in the future")
    return iso_ms(moment), to_ms(moment)


@router.post(
    "/{shipment_id}/events",
    status_code=status.HTTP_201_CREATED,
    response_model=EventRecorded,
    openapi_extra=_BODY_DOC,
)
def record(
    shipment_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    body: dict[str, Any] = Body(),
) -> EventRecorded:
    """Record shipping / arriving (carrier) or receiving (consignee) as an EPCIS event."""
    # A non-party learns nothing, not even that the shipment exists (404, as for GETs).
    shipment = visible_shipment(session, principal, shipment_id)
    event = (
        _full(body, shipment, principal) if "type" in body else _minimal(body, shipment, principal)
    )
    biz_step = short_biz_step(event.get("bizStep")) or ""
    if shipment.status in _CLOSED:
        raise Conflict(f"the shipment is {shipment.status.value}: no more events")
    target = _STATUS_AFTER[biz_step]
    if shipment.status is not target and not can_transition(shipment.status, target):
        raise Conflict(f"the shipment is already {shipment.status.value}: cannot record {biz_step}")
    try:
        digest = event_hash(event)
        ni = event_hash_ni(event)
    except EpcisError as exc:
        raise FieldError(["body"], f"not a valid EPCIS 2.0 event: {exc}") from None
    kind = 1 if is_error_declaration(event) else 0
    time_text, time_ms = _event_time(event)
    stored = record_event(
        session,
        kind=kind,
        event_hash=digest,
        event_json=dump(event),
        event_type=str(event["type"]),
        biz_step=biz_step,
        event_time_ms=time_ms,
        recorded_by=principal.id,
        shipment_id=shipment.id,
        item_ids=[item.id for item in shipment.items if epc_of(item) in set(event["epcList"])],
        leaf_hash_fn=leaf_hash,
    )
    if shipment.status is not target:
        set_shipment_status(session, shipment, target)
    session.commit()
    return EventRecorded(
        id=stored.id,
        event_hash=ni,
        kind=kind,
        biz_step=biz_step,
        event_time=time_text,
        shipment_status=shipment.status.value,
        finality=PENDING,
    )


@router.get("/{shipment_id}/events", response_model=list[ShipmentEventPublic])
def list_events(
    shipment_id: str, session: SessionDep, principal: CurrentPrincipal
) -> list[ShipmentEventPublic]:
    """A shipment's events in time order, with their anchoring status."""
    shipment = visible_shipment(session, principal, shipment_id)
    out = []
    for record_ in shipment_events(session, shipment.id):
        event = record_.event
        out.append(
            ShipmentEventPublic(
                id=event.id,
                event_hash="ni:///sha-256;" + event.event_hash.hex() + "?ver=CBV2.0",
                kind=event.kind,
                biz_step=event.biz_step,
                event_time=json.loads(event.event_json).get("eventTime", ""),
                finality=finality_of(record_.batch),
                event=json.loads(event.event_json),
            )
        )
    return out
