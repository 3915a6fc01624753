"""EPCIS events on a shipment: the carrier ships and arrives, only the consignee receives.

The rules and the recording are api.shipment_recording's, shared with the EPCIS capture.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, status

from api.deps import CurrentPrincipal, SessionDep, SettingsDep
from api.finality import PENDING, finality_of
from api.openapi_doc import errors
from api.schemas.events import EventRecorded, ShipmentEventPublic
from api.shipment_recording import record_on_shipment
from core.epcis.events import BIZ_STEP_PREFIXES, iso_ms
from core.epcis.hashing import event_id
from store.erasure import erasure_of
from store.queries import shipment_events
from store.shipment_access import visible_shipment

router = APIRouter(prefix="/shipments", tags=["events"])

# Every spelling of the three bizSteps a partner records (core.epcis.events.short_biz_step).
_BIZ_STEPS = [
    prefix + step
    for step in ("shipping", "arriving", "receiving")
    for prefix in ("", *BIZ_STEP_PREFIXES)
]
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
                            "marks it. Its epcList must name the shipment's items, its bizStep "
                            "be shipping, arriving or receiving, its eventTime carry an offset.",
                            "required": ["type", "eventTime", "bizStep", "epcList"],
                            "properties": {
                                "type": {"const": "ObjectEvent"},
                                "eventTime": {"type": "string", "format": "date-time"},
                                "bizStep": {"enum": _BIZ_STEPS},
                                "epcList": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "minItems": 1,
                                },
                            },
                        },
                    ]
                }
            }
        },
        "required": True,
    }
}


@router.post(
    "/{shipment_id}/events",
    status_code=status.HTTP_201_CREATED,
    response_model=EventRecorded,
    openapi_extra=_BODY_DOC,
    responses=errors(403, 404, 409),
)
def record(
    shipment_id: str,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    body: dict[str, Any] = Body(),
) -> EventRecorded:
    """Record shipping / arriving (carrier) or receiving (consignee) as an EPCIS event.

    Each step once per shipment (409), at a time at most EVENT_MAX_BACKDATE_SECONDS in the past
    and at most 60 s in the future, arriving and receiving not before the shipping (422 naming
    eventTime). An errorDeclaration of an event the caller recorded here is stored beside it.
    EPCIS sensor data (sensorElementList) is refused: only device-signed readings count.
    """
    # A non-party learns nothing, not even that the shipment exists (404, as for GETs).
    shipment = visible_shipment(session, principal, shipment_id)
    step = record_on_shipment(
        session, principal, shipment, body, max_backdate=settings.event_max_backdate
    )
    session.commit()
    return EventRecorded(
        id=step.event.id,
        event_hash=step.hashed.event_id,
        kind=step.hashed.kind,
        biz_step=step.biz_step,
        event_time=iso_ms(step.moment),
        shipment_status=shipment.status.value,
        finality=PENDING,
    )


@router.get(
    "/{shipment_id}/events", response_model=list[ShipmentEventPublic], responses=errors(404)
)
def list_events(
    shipment_id: str, session: SessionDep, principal: CurrentPrincipal
) -> list[ShipmentEventPublic]:
    """A shipment's events in time order, with their anchoring status."""
    shipment = visible_shipment(session, principal, shipment_id)
    out = []
    for record_ in shipment_events(session, shipment.id):
        event = record_.event
        erasure = erasure_of(session, event.id)
        if erasure is not None:
            # Its JSON is gone and what its row says is no evidence: only the erasure shows.
            out.append(
                ShipmentEventPublic(
                    id=event.id,
                    event_hash=None,
                    kind=event.kind,
                    biz_step=None,
                    event_time=None,
                    finality=finality_of(record_.batch),
                    event=None,
                    erased_at=erasure.erased_at,
                    erased_by=erasure.erased_by,
                )
            )
            continue
        body = json.loads(event.event_json)
        out.append(
            ShipmentEventPublic(
                id=event.id,
                event_hash=event_id(event.event_hash),
                kind=event.kind,
                biz_step=event.biz_step,
                event_time=body.get("eventTime", ""),
                finality=finality_of(record_.batch),
                event=body,
            )
        )
    return out
