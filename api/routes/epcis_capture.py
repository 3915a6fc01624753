"""EPCIS 2.0 REST binding, capture: POST /epcis/capture, its jobs, POST /epcis/events.

Capture runs inside the request: when 202 is answered the job is finished (`running` false) and
stored in the database. All or nothing by default (`GS1-Capture-Error-Behaviour: rollback`): a
document with any invalid event is refused whole with 400 (a problem per event, naming its index
and field) and nothing of it is stored; `proceed` stores the valid events and lists the others in
the job. Events are deduplicated by (kind, hash): a repeat is answered like a first capture, and
a repeat by another principal records them as a further capturer. Write rights: see
api.capture_routing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api.capture_routing import capture_in_order
from api.deps import ChainDep, CurrentPrincipal, SessionDep, SettingsDep
from api.epcis_problem import EpcisRoute
from api.errors import NotFound
from api.limits import MAX_BODY_BYTES
from api.openapi_doc import errors
from api.routes.commissionings import commissioning_public
from api.schemas.epcis import (
    CAPTURE_BODY_DOC,
    EVENT_BODY_DOC,
    CapturedEvent,
    CaptureError,
    CaptureJobOut,
    EpcisProblem,
)
from api.schemas.products import CommissioningPublic
from core.epcis.capture_document import CaptureProblem, check_document, check_event
from core.epcis.hashing import event_id
from store.capture_jobs import job_of, jobs_of, new_job
from store.models import CaptureJob

router = APIRouter(prefix="/epcis", tags=["epcis"], route_class=EpcisRoute)

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
# Events per capture call; the body cap (MAX_BODY_BYTES) bounds a document's size.
CAPTURE_LIMIT = 5000
_VERSIONS = {"2.0", "2.0.0"}
_VALIDATION = "epcisException:ValidationException"
_EXCEPTIONS = {
    400: _VALIDATION,
    406: "epcisException:NotAcceptableException",
    413: "epcisException:CaptureLimitExceededException",
}
_VERSION_HEADERS = {"GS1-EPCIS-Version": EPCIS_VERSION, "GS1-CBV-Version": CBV_VERSION}
_PROBLEM = {"$ref": "#/components/schemas/EpcisProblem"}
_ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def _problem_doc(code: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": _PROBLEM},
            "application/json": {"schema": _ERROR_BODY},
        },
    }


_CAPTURE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem_doc(
        400,
        "Not a valid EPCIS 2.0 document (GS1's JSON Schema, an eventTime without offset...): "
        "each problem names the event's index and field; nothing is stored. A JSON body "
        "nested deeper than the bound is refused with the API's ErrorBody.",
    ),
    406: _problem_doc(406, "GS1-EPCIS-Version or GS1-CBV-Version names a version not served"),
    413: _problem_doc(413, "More events than GS1-EPCIS-Capture-Limit, or a body over the cap"),
    # An event naming a chaintrace shipment refused by the shipment's rules (all-or-nothing).
    **errors(403, 404, 409),
}
_VERSION_HEADER_DOC = {
    name: {"schema": {"type": "string"}, "description": f"{name} of the answer"}
    for name in _VERSION_HEADERS
}

# Read by the route itself (an unserved version is the binding's 406, not a 422).
_VERSION_PARAMETERS = [
    {
        "in": "header",
        "name": name,
        "required": False,
        "description": f"The {what} version the client speaks: another than 2.0.0 is 406",
        "schema": {"type": "string", "enum": sorted(_VERSIONS)},
    }
    for name, what in (("GS1-EPCIS-Version", "EPCIS"), ("GS1-CBV-Version", "CBV"))
]


def _problem(code: int, title: str, problems: Sequence[CaptureProblem] = ()) -> JSONResponse:
    body = EpcisProblem(
        type=_EXCEPTIONS[code],
        title=title,
        status=code,
        detail="; ".join(str(p) for p in problems[:20]) or title,
        errors=[_error(p) for p in problems],
    )
    return JSONResponse(
        body.model_dump(by_alias=True),
        status_code=code,
        media_type="application/problem+json",
        headers=_VERSION_HEADERS,
    )


def _error(problem: CaptureProblem) -> CaptureError:
    return CaptureError(
        title="The event is not valid" if problem.index is not None else "Invalid document",
        detail=str(problem),
        event_index=problem.index,
        pointer=problem.pointer,
    )


def _versions(request: Request) -> JSONResponse | None:
    epcis = request.headers.get("GS1-EPCIS-Version")
    cbv = request.headers.get("GS1-CBV-Version")
    if epcis is not None and epcis not in _VERSIONS:
        return _problem(406, f"GS1-EPCIS-Version {epcis!r}: this server speaks EPCIS 2.0.0")
    if cbv is not None and cbv not in _VERSIONS:
        return _problem(406, f"GS1-CBV-Version {cbv!r}: this server speaks CBV 2.0.0")
    return None


def _release_write_lock(session: SessionDep) -> None:
    """End the transaction the key's look-up began before the events are checked and hashed
    (the CPU-heavy part): on SQLite it holds the write lock (BEGIN IMMEDIATE), which the
    anchoring worker and other writers would otherwise wait for meanwhile (bench/capture.py).
    The capture's writes take it again, in a transaction of their own."""
    session.commit()


def _events_of(doc: dict[str, Any]) -> tuple[list[str | int], list[Any]]:
    if doc.get("type") == "EPCISQueryDocument":
        prefix: list[str | int] = ["epcisBody", "queryResults", "resultsBody", "eventList"]
    else:
        prefix = ["epcisBody", "eventList"]
    events: Any = doc
    for key in prefix:
        events = events.get(key, {}) if isinstance(events, dict) else {}
    return prefix, events if isinstance(events, list) else []


def job_out(job: CaptureJob) -> CaptureJobOut:
    """A stored job in the binding's CaptureJob shape."""
    behaviour: Literal["rollback", "proceed"] = (
        "proceed" if job.error_behaviour == "proceed" else "rollback"
    )
    return CaptureJobOut(
        capture_id=job.capture_id,
        created_at=job.created_at,
        finished_at=job.finished_at,
        running=job.running,
        success=job.success,
        capture_error_behaviour=behaviour,
        errors=[CaptureError.model_validate(e) for e in job.errors],
    )


@router.options(
    "/capture",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        204: {
            "description": "The capture interface's settings, in headers",
            "headers": {
                "GS1-EPCIS-Capture-Limit": {"schema": {"type": "integer"}},
                "GS1-EPCIS-Capture-File-Size-Limit": {"schema": {"type": "integer"}},
                "GS1-Capture-Error-Behaviour": {"schema": {"type": "string"}},
                **_VERSION_HEADER_DOC,
            },
        }
    },
)
def capture_options() -> Response:
    """Discover the capture interface: versions, limits and error behaviours (no key needed)."""
    return Response(
        status_code=204,
        headers={
            "Allow": "OPTIONS, POST, GET",
            **_VERSION_HEADERS,
            "GS1-EPCIS-Min": EPCIS_VERSION,
            "GS1-EPCIS-Max": EPCIS_VERSION,
            "GS1-CBV-Min": CBV_VERSION,
            "GS1-CBV-Max": CBV_VERSION,
            "GS1-EPCIS-Capture-Limit": str(CAPTURE_LIMIT),
            "GS1-EPCIS-Capture-File-Size-Limit": str(MAX_BODY_BYTES),
            "GS1-Capture-Error-Behaviour": "all",  # the binding's word for rollback and proceed
        },
    )


@router.post(
    "/capture",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    openapi_extra={**CAPTURE_BODY_DOC, "parameters": _VERSION_PARAMETERS},
    responses={
        202: {
            "description": "Captured (synchronously: the job is finished). Location names the "
            "capture job.",
            "headers": {"Location": {"schema": {"type": "string"}}, **_VERSION_HEADER_DOC},
        },
        **_CAPTURE_ERRORS,
    },
)
def capture(
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
    request: Request,
    behaviour: Annotated[
        Literal["rollback", "proceed"], Header(alias="GS1-Capture-Error-Behaviour")
    ] = "rollback",
    doc: dict[str, Any] = Body(),
) -> Response:
    """Capture an EPCISDocument (or EPCISQueryDocument): 202 and Location /epcis/capture/{id}.

    Checked against GS1's EPCIS 2.0 JSON Schema, hashed (CBV 2.0), recorded as captured by the
    caller and anchored like every event. `rollback` (default): any invalid event refuses the
    document (400, nothing stored); `proceed`: the valid events are stored, the job lists the
    others. An event naming a chaintrace shipment passes the rules of POST
    /shipments/{id}/events (403, 404, 409, 422 naming the event's index and field; listed in the
    job under `proceed`); a commissioning becomes a draft for the brand holding its EPCs' prefix
    to sign (GET /commissionings lists them; 422 to anyone else).
    """
    refused_version = _versions(request)
    if refused_version is not None:
        return refused_version
    prefix, events = _events_of(doc)
    if len(events) > CAPTURE_LIMIT:
        return _problem(413, f"more than {CAPTURE_LIMIT} events (GS1-EPCIS-Capture-Limit)")
    _release_write_lock(session)
    checked = check_document(doc)
    if checked.document_problems:
        return _problem(400, "Not a valid EPCIS 2.0 document", checked.problems)
    if behaviour == "rollback" and checked.problems:
        return _problem(400, "Not a valid EPCIS 2.0 document: nothing captured", checked.problems)
    captured = capture_in_order(
        session,
        principal,
        checked,
        where=["body", *prefix],
        single=False,
        proceed=behaviour == "proceed",
        settings=settings,
        chain=chain,
    )
    problems = sorted(
        [*checked.problems, *captured.problems],
        key=lambda p: p.index if p.index is not None else -1,
    )
    job = new_job(
        session,
        principal.id,
        behaviour=behaviour,
        event_count=checked.count,
        errors=[_error(p).model_dump() for p in problems],
    )
    session.commit()
    return Response(
        status_code=202,
        headers={"Location": f"/epcis/capture/{job.capture_id}", **_VERSION_HEADERS},
    )


@router.get(
    "/capture",
    response_model=list[CaptureJobOut],
    responses={200: {"headers": {"Link": {"schema": {"type": "string"}}, **_VERSION_HEADER_DOC}}},
)
def list_jobs(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=500)] = 30,
    next_page_token: Annotated[
        str | None, Query(alias="nextPageToken", pattern="^[0-9]{1,18}$")
    ] = None,
) -> list[CaptureJobOut]:
    """The caller's capture jobs, newest first; `Link: <...>; rel="next"` while more remain."""
    before = int(next_page_token) if next_page_token is not None else None
    jobs = jobs_of(session, principal.id, limit=per_page + 1, before=before)
    response.headers.update(_VERSION_HEADERS)
    if len(jobs) > per_page:
        jobs = jobs[:per_page]
        following = request.url.include_query_params(nextPageToken=str(jobs[-1].id))
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [job_out(job) for job in jobs]


@router.get(
    "/capture/{capture_id}",
    response_model=CaptureJobOut,
    responses={**errors(404), 200: {"headers": _VERSION_HEADER_DOC}},
)
def get_job(
    capture_id: str, response: Response, session: SessionDep, principal: CurrentPrincipal
) -> CaptureJobOut:
    """One of the caller's capture jobs (another's answers 404, as an unknown one)."""
    job = job_of(session, principal.id, capture_id)
    if job is None:
        raise NotFound("no such capture job")
    response.headers.update(_VERSION_HEADERS)
    return job_out(job)


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    response_model=CapturedEvent,
    openapi_extra={**EVENT_BODY_DOC, "parameters": _VERSION_PARAMETERS},
    responses={
        201: {
            "description": "Captured; Location names the event by its CBV 2.0 hash id",
            "headers": {"Location": {"schema": {"type": "string"}}, **_VERSION_HEADER_DOC},
        },
        202: {
            "description": "A commissioning by the brand holding its EPCs' prefix: the draft "
            "for the brand to sign (Location /commissionings/{id}); no event until it signs",
            "model": CommissioningPublic,
            "headers": {"Location": {"schema": {"type": "string"}}, **_VERSION_HEADER_DOC},
        },
        **_CAPTURE_ERRORS,
    },
)
def capture_one(
    session: SessionDep,
    settings: SettingsDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
    request: Request,
    event: dict[str, Any] = Body(),
) -> Response:
    """Capture one EPCIS event: 201 and Location /epcis/events/{eventID} (its CBV 2.0 hash id,
    percent-encoded). A repeat is answered the same way; an event naming a chaintrace shipment
    passes the rules of POST /shipments/{id}/events (403, 404, 409, 422); a commissioning by
    the brand holding its EPCs' prefix answers 202 with the draft to sign (422 to anyone else)."""
    refused_version = _versions(request)
    if refused_version is not None:
        return refused_version
    _release_write_lock(session)
    checked = check_event(event)
    if checked.problems:
        return _problem(400, "Not a valid EPCIS 2.0 event: nothing captured", checked.problems)
    hashed = checked.events[0]
    captured = capture_in_order(
        session,
        principal,
        checked,
        where=["body"],
        single=True,
        proceed=False,
        settings=settings,
        chain=chain,
    )
    session.commit()
    if 0 in captured.drafts:  # a commissioning: nothing is an event before the brand signs
        draft = captured.drafts[0]
        return JSONResponse(
            commissioning_public(draft).model_dump(mode="json", by_alias=True),
            status_code=202,
            headers={"Location": f"/commissionings/{draft['id']}", **_VERSION_HEADERS},
        )
    location = "/epcis/events/" + quote(event_id(hashed.event_hash), safe="")
    return JSONResponse(
        json.loads(hashed.event_json),
        status_code=201,
        headers={"Location": location, **_VERSION_HEADERS},
    )
