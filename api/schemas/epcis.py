"""The EPCIS 2.0 REST binding's bodies for capture: capture jobs and RFC 7807 problems."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# What POST /epcis/capture takes: the binding's EPCISDocument / EPCISQueryDocument, checked in
# full against GS1's JSON Schema by the route (core.epcis.capture_document).
CAPTURE_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "An EPCIS 2.0 EPCISDocument or EPCISQueryDocument (JSON / "
                    "JSON-LD), valid against GS1's EPCIS 2.0 JSON Schema.",
                    "required": ["@context", "type", "schemaVersion", "creationDate", "epcisBody"],
                    "properties": {
                        "type": {"enum": ["EPCISDocument", "EPCISQueryDocument"]},
                        "epcisBody": {"type": "object"},
                    },
                }
            },
            "application/ld+json": {"schema": {"type": "object"}},
        },
    }
}
EVENT_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "One EPCIS 2.0 event (JSON / JSON-LD), valid against GS1's "
                    "EPCIS 2.0 JSON Schema; its eventTime carries a UTC offset.",
                    "required": ["type", "eventTime"],
                    "properties": {
                        "type": {
                            "enum": [
                                "ObjectEvent",
                                "AggregationEvent",
                                "TransactionEvent",
                                "TransformationEvent",
                                "AssociationEvent",
                            ]
                        },
                        "eventTime": {"type": "string", "format": "date-time"},
                    },
                }
            }
        },
    }
}


class EpcisProblem(BaseModel):
    """An RFC 7807 problem as the binding answers it; `errors` lists each event's problems."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="e.g. epcisException:ValidationException")
    title: str
    status: int
    detail: str | None = None
    errors: list[CaptureError] = Field(default_factory=list)


class CaptureError(BaseModel):
    """One event that was not captured: where (its index and a JSON pointer into it) and why."""

    model_config = ConfigDict(extra="forbid")

    type: str = "epcisException:ValidationException"
    title: str
    status: int = 400
    detail: str
    event_index: int | None = Field(
        serialization_alias="eventIndex",
        description="The event's position in the document; null: the document",
    )
    pointer: str = Field(description="A JSON pointer into the event (or the document)")


EpcisProblem.model_rebuild()


class CaptureJobOut(BaseModel):
    """The binding's CaptureJob. Capture runs inside the request, so a job is never running."""

    model_config = ConfigDict(extra="forbid")

    capture_id: str = Field(serialization_alias="captureID")
    created_at: datetime = Field(serialization_alias="createdAt")
    finished_at: datetime | None = Field(serialization_alias="finishedAt")
    running: bool
    success: bool
    capture_error_behaviour: Literal["rollback", "proceed"] = Field(
        serialization_alias="captureErrorBehaviour"
    )
    errors: list[CaptureError]


class CapturedEvent(BaseModel):
    """POST /epcis/events' answer: the event as stored, and the id it is stored under."""

    model_config = ConfigDict(extra="allow")

    type: str
    event_time: str = Field(serialization_alias="eventTime")
