"""The query half of the GS1 EPCIS 2.0 REST binding under /epcis: events by filters, one event,
events by EPC, bizStep, bizLocation, readPoint and disposition, the event types and bizSteps.

Every answer holds only the events the key's principal may see (store/epcis_query.py): an
unknown and an invisible event are the same 404. Each event carries `ct:anchoring` (its hash,
salt, leaf, proof, root, finality and anchoring transaction, as the resolver shows them).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from api.anchoring_view import anchoring_fields
from api.brand_state import anchor_releases
from api.deps import CurrentPrincipal, SessionDep, StateDep
from api.epcis_parameters import (
    biz_transactions,
    check_dynamic,
    check_names,
    is_dynamic,
    sensor_bounds,
)
from api.epcis_problem import EpcisRoute
from api.epcis_query_errors import acceptable, not_found, problem_responses
from api.errors import FieldError
from api.openapi_doc import errors
from api.schemas.epcis_query import Collection, EpcisQueryDocument
from core.epcis.cbv import MEASUREMENT_TYPES
from core.epcis.events import iso_ms, to_ms
from core.epcis.extension import CT_NAMESPACE, EPCIS_CONTEXT
from core.epcis.hashing import event_id
from store.epcis_match import JsonFilters, SensorFilters
from store.epcis_query import (
    EventQuery,
    Viewer,
    find_event,
    query_events,
    viewer_of,
    visible_biz_steps,
)
from store.locations import known_locations
from store.queries import EventRecord

router = APIRouter(
    prefix="/epcis",
    tags=["EPCIS 2.0 query"],
    route_class=EpcisRoute,
    dependencies=[Depends(acceptable)],
)

VERSION_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
MAX_PER_PAGE = 1000
_TOKEN_PREFIX = "ct1:"


def _paged(*codes: int, link: bool = True, query: bool = False) -> dict[int | str, dict[str, Any]]:
    """The responses of a route: its errors (a query's parameter problems too), and the
    binding's headers on its 200."""
    headers = {
        name: {"description": f"{name} of the answer", "schema": {"type": "string"}}
        for name in VERSION_HEADERS
    }
    if link:
        headers["Link"] = {
            "description": 'The next page: `<url>; rel="next"` (absent on the last page)',
            "schema": {"type": "string"},
        }
    problems = problem_responses(406, *((400, 501) if query else ()))
    return {**errors(*codes), **problems, 200: {"headers": headers}}


def _context() -> list[str | dict[str, str]]:
    return [EPCIS_CONTEXT, {"ct": CT_NAMESPACE}]


def _token(after: int) -> str:
    raw = (_TOKEN_PREFIX + str(after)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str | None) -> int | None:
    """The event id a nextPageToken reads on after (422 if it is not one of ours). It only moves
    the start: every page is read under the caller's own visibility."""
    if token is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    number = raw.removeprefix(_TOKEN_PREFIX)
    if not raw.startswith(_TOKEN_PREFIX) or not number.isdigit() or len(number) > 18:
        raise FieldError(["query", "nextPageToken"], "not a nextPageToken this server issued")
    return int(number)


def _values(value: str | None) -> tuple[str, ...]:
    """A pipe-delimited list (the binding's style), each value non-empty."""
    if value is None:
        return ()
    return tuple(value.split("|"))  # PIPE_PATTERN: each non-empty


def _aware(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 date-time (TIME_PATTERN: with its offset), else 422."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise FieldError(["query", name], f"not an RFC 3339 date-time: {exc}") from None


def _ms(name: str, value: str | None) -> int | None:
    moment = _aware(name, value)
    return None if moment is None else to_ms(moment)


def _moment(name: str, value: str | None) -> datetime | None:
    """The moment in UTC; one beyond datetime's range in UTC is its bound (0001 or 9999)."""
    moment = _aware(name, value)
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        bound = datetime.min if moment.year == 1 else datetime.max
        return bound.replace(tzinfo=UTC)


# One or more of the five event types, pipe-delimited (GS1's schema names them).
_ONE_TYPE = "(" + "|".join(EVENT_TYPES) + ")"
EVENT_TYPE_PATTERN = f"^{_ONE_TYPE}(\\|{_ONE_TYPE})*$"
# Non-empty values between pipes, no NUL (api/limits.py refuses it anywhere).
PIPE_PATTERN = "^[^|\\u0000]+(\\|[^|\\u0000]+)*$"
_Pipe = Annotated[
    str | None,
    Query(pattern=PIPE_PATTERN, description="Pipe-delimited values (any one matches)"),
]
TIME_PATTERN = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
    "([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_Time = Annotated[
    str | None,
    Query(
        pattern=TIME_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="RFC 3339 date-time with its UTC offset",
    ),
]


@cache
def _fixed_names() -> frozenset[str]:
    """The fixed query parameter names of GET /events: event_query's aliases and the paging."""
    names = {"perPage", "nextPageToken"}
    for parameter in inspect.signature(event_query, eval_str=True).parameters.values():
        for meta in getattr(parameter.annotation, "__metadata__", ()):
            if isinstance(getattr(meta, "alias", None), str):
                names.add(meta.alias)
    return frozenset(names)


def dynamic_parameters(request: Request) -> dict[str, str]:
    """The query's open-named parameters (EQ_bizTransaction_<type>, <op>_<field>_<uom>), after
    checking every name it brings (api/epcis_parameters.py: 400 unknown or twice, 501 a
    standard one not evaluated here)."""
    items = request.query_params.multi_items()
    check_names([name for name, _ in items], _fixed_names())
    return {name: value for name, value in items if is_dynamic(name)}


def _measurement_types(value: str | None) -> tuple[str, ...]:
    """EQ_type: GS1 measurement types as bare words (Temperature) or URIs; else 422."""
    types = _values(value)
    for kind in types:
        if ":" not in kind and kind not in MEASUREMENT_TYPES:
            raise FieldError(["query", "EQ_type"], f"{kind!r} is not a GS1 measurement type")
    return types


def event_query(
    event_type: Annotated[
        str | None,
        Query(
            alias="eventType",
            pattern=EVENT_TYPE_PATTERN,
            description="Pipe-delimited EPCIS event types (any one matches)",
        ),
    ] = None,
    ge_event_time: Annotated[_Time, Query(alias="GE_eventTime")] = None,
    lt_event_time: Annotated[_Time, Query(alias="LT_eventTime")] = None,
    ge_record_time: Annotated[_Time, Query(alias="GE_recordTime")] = None,
    lt_record_time: Annotated[_Time, Query(alias="LT_recordTime")] = None,
    eq_action: Annotated[_Pipe, Query(alias="EQ_action")] = None,
    eq_biz_step: Annotated[_Pipe, Query(alias="EQ_bizStep")] = None,
    eq_disposition: Annotated[_Pipe, Query(alias="EQ_disposition")] = None,
    eq_read_point: Annotated[_Pipe, Query(alias="EQ_readPoint")] = None,
    eq_biz_location: Annotated[_Pipe, Query(alias="EQ_bizLocation")] = None,
    match_epc: Annotated[_Pipe, Query(alias="MATCH_epc")] = None,
    match_any_epc: Annotated[_Pipe, Query(alias="MATCH_anyEPC")] = None,
    match_parent_id: Annotated[_Pipe, Query(alias="MATCH_parentID")] = None,
    match_input_epc: Annotated[_Pipe, Query(alias="MATCH_inputEPC")] = None,
    match_output_epc: Annotated[_Pipe, Query(alias="MATCH_outputEPC")] = None,
    eq_event_id: Annotated[_Pipe, Query(alias="EQ_eventID")] = None,
    eq_type: Annotated[_Pipe, Query(alias="EQ_type")] = None,
    eq_device_id: Annotated[_Pipe, Query(alias="EQ_deviceID")] = None,
    dynamic: Annotated[Mapping[str, str] | None, Depends(dynamic_parameters)] = None,
) -> EventQuery:
    """The SimpleEventQuery parameters of GET /epcis/events.

    Each fixed-name parameter is a keyword argument whose `Query(alias=...)` is the binding's
    name. `dynamic` holds the open-named ones, name -> raw value: `EQ_bizTransaction_<type>`
    (pipe list of values) and the sensor bounds `<GT|GE|LT|LE>_<value|minValue|maxValue|
    meanValue|percValue>_<uom>` (a decimal). Over HTTP the `dynamic_parameters` dependency fills
    it from the raw query; a direct caller (e.g. a stored named query) passes the mapping
    itself, and its names are checked the same way (400 unknown, 501 not evaluated here).
    """
    dynamic = dynamic or {}
    check_dynamic(dynamic)
    return EventQuery(
        event_types=_values(event_type),
        ge_event_time_ms=_ms("GE_eventTime", ge_event_time),
        lt_event_time_ms=_ms("LT_eventTime", lt_event_time),
        ge_record_time=_moment("GE_recordTime", ge_record_time),
        lt_record_time=_moment("LT_recordTime", lt_record_time),
        json=JsonFilters(
            actions=_values(eq_action),
            biz_steps=_values(eq_biz_step),
            dispositions=_values(eq_disposition),
            read_points=_values(eq_read_point),
            biz_locations=_values(eq_biz_location),
            match_epc=_values(match_epc),
            match_any_epc=_values(match_any_epc),
            match_parent_id=_values(match_parent_id),
            match_input_epc=_values(match_input_epc),
            match_output_epc=_values(match_output_epc),
            event_ids=_values(eq_event_id),
            biz_transactions=biz_transactions(dynamic),
            sensors=SensorFilters(
                types=_measurement_types(eq_type),
                device_ids=_values(eq_device_id),
                bounds=sensor_bounds(dynamic),
            ),
        ),
    )


EventQueryDep = Annotated[EventQuery, Depends(event_query)]
PerPage = Annotated[
    int, Query(alias="perPage", ge=1, le=MAX_PER_PAGE, description="Events per page at most")
]
PageToken = Annotated[
    str | None,
    Query(alias="nextPageToken", max_length=64, description="From the previous page's Link"),
]


def _event(session: Session, record: EventRecord, contracts: dict[int, str]) -> dict[str, Any]:
    """The event as stored (eventID added if it had none: the canonical hash leaves it out)
    with its anchoring under `ct:anchoring`."""
    body: dict[str, Any] = json.loads(record.event.event_json)
    body.setdefault("eventID", event_id(record.event.event_hash))
    body["ct:anchoring"] = anchoring_fields(session, record, contracts, erased=False)
    return body


def _document(session: Session, state: StateDep, records: list[EventRecord]) -> EpcisQueryDocument:
    contracts = anchor_releases(state.chain)
    events = [_event(session, r, contracts) for r in records]
    return EpcisQueryDocument.model_validate(
        {
            "@context": _context(),
            "creationDate": iso_ms(datetime.now(UTC)),
            "epcisBody": {
                "queryResults": {
                    "queryName": "SimpleEventQuery",
                    "resultsBody": {"eventList": events},
                }
            },
        }
    )


def _page(
    request: Request,
    response: Response,
    session: Session,
    state: StateDep,
    viewer: Viewer,
    query: EventQuery,
    per_page: int,
    token: str | None,
) -> EpcisQueryDocument:
    page = query_events(session, viewer, query, after=_after(token), per_page=per_page)
    response.headers.update(VERSION_HEADERS)
    if page.after is not None:
        url = request.url.include_query_params(nextPageToken=_token(page.after))
        sent = request.scope.get("raw_path") or request.url.path.encode()  # percent-encoded:
        url = url.replace(path=quote(sent, safe="/%:@!$&'()*+,;=~"))  # a header is ASCII
        response.headers["Link"] = f'<{url}>; rel="next"'
    return _document(session, state, page.records)


@router.get("/events", response_model=EpcisQueryDocument, responses=_paged(422, query=True))
def events(
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: CurrentPrincipal,
    query: EventQueryDep,
    per_page: PerPage = 30,
    next_page_token: PageToken = None,
) -> EpcisQueryDocument:
    """SimpleEventQuery over the events the caller may see, in id order; `Link: <...>;
    rel="next"` while there are more.

    Besides the parameters listed, two open-named families (names OpenAPI cannot list):
    `EQ_bizTransaction_<type>` (a CBV bizTransaction type, e.g. `EQ_bizTransaction_po`; pipe
    list of values) and the sensor bounds `<GT|GE|LT|LE>_<value|minValue|maxValue|meanValue|
    percValue>_<uom>` (e.g. `GE_maxValue_CEL=8`; a decimal, compared in that unit only). One
    sensorReport must pass EQ_type, EQ_deviceID and every bound together. Any other name is 400
    (QueryParameterException), an EPCIS 2.0 one not evaluated here 501."""
    viewer = viewer_of(session, principal)
    return _page(request, response, session, state, viewer, query, per_page, next_page_token)


@router.get(
    "/events/{eventID:path}",
    response_model=EpcisQueryDocument,
    responses={**_paged(link=False), **problem_responses(404)},
)
def one_event(
    eventID: str,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: CurrentPrincipal,
) -> EpcisQueryDocument:
    """One event by its ni:/// hash or its eventID; 404 if absent or not the caller's to see."""
    record = find_event(session, viewer_of(session, principal), eventID)
    if record is None:
        raise not_found("no such event among those you may see")
    response.headers.update(VERSION_HEADERS)
    return _document(session, state, [record])


# The binding's per-value resources /{parameter}s/{parameter}/events: the path parameter, the
# filter its value sets, the summary.
_BY_VALUE = (
    ("epc", "match_any_epc", "Events naming the EPC anywhere (MATCH_anyEPC)."),
    ("bizStep", "biz_steps", "Events of the bizStep (short name or CBV URI)."),
    ("bizLocation", "biz_locations", "Events at the bizLocation."),
    ("readPoint", "read_points", "Events read at the readPoint."),
    (
        "disposition",
        "dispositions",
        "Events leaving the goods in the disposition (short name or CBV URI).",
    ),
)


def _value_events(
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: CurrentPrincipal,
    query: EventQueryDep,
    per_page: PerPage = 30,
    next_page_token: PageToken = None,
    *,
    filters: JsonFilters,
) -> EpcisQueryDocument:
    """The visible events passing `filters` (the path's value) and the query's own filters,
    paged like GET /events."""
    viewer = viewer_of(session, principal)
    query = replace(query, scope=filters)
    return _page(request, response, session, state, viewer, query, per_page, next_page_token)


def _value_route(parameter: str, field_name: str, summary: str) -> Callable[..., Any]:
    """The endpoint of one _BY_VALUE row: FastAPI sees _value_events' parameters with the path
    parameter in place of `filters`; the call turns the path's value into the row's filter."""

    def endpoint(**kwargs: Any) -> EpcisQueryDocument:
        values: dict[str, Any] = {field_name: (kwargs.pop(parameter),)}
        filters = JsonFilters(**values)
        return _value_events(**kwargs, filters=filters)

    base = inspect.signature(_value_events, eval_str=True)
    kept = [p for p in base.parameters.values() if p.name != "filters"]
    path_parameter = inspect.Parameter(parameter, inspect.Parameter.KEYWORD_ONLY, annotation=str)
    endpoint.__signature__ = base.replace(parameters=[*kept, path_parameter])  # type: ignore[attr-defined]
    endpoint.__doc__ = summary
    return endpoint


for _parameter, _field_name, _summary in _BY_VALUE:
    router.add_api_route(
        f"/{_parameter}s/{{{_parameter}:path}}/events",
        _value_route(_parameter, _field_name, _summary),
        methods=["GET"],
        # The operationId's stem, as when each had its own function: epc_events, biz_step_events...
        name=re.sub("([A-Z])", r"_\1", _parameter).lower() + "_events",
        response_model=EpcisQueryDocument,
        responses=_paged(422, query=True),
    )


@router.get("/eventTypes", response_model=Collection, responses=_paged(link=False))
def event_types(response: Response, principal: CurrentPrincipal) -> Collection:
    """The EPCIS 2.0 event types this repository answers queries for."""
    response.headers.update(VERSION_HEADERS)
    return Collection.model_validate({"@context": _context(), "member": list(EVENT_TYPES)})


@router.get("/bizSteps", response_model=Collection, responses=_paged(link=False))
def biz_steps(response: Response, session: SessionDep, principal: CurrentPrincipal) -> Collection:
    """The CBV bizSteps of the events the caller recorded, is a party of, or whose items are
    the caller's brand's."""
    response.headers.update(VERSION_HEADERS)
    steps = visible_biz_steps(session, viewer_of(session, principal))
    return Collection.model_validate({"@context": _context(), "member": steps})


def _known_places(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    per_page: PerPage = 30,
    next_page_token: PageToken = None,
) -> Collection:
    """The locations known to this repository that the caller may see: the registered ones
    (/locations) that are public or the caller's, by registration; `Link` while there are
    more. Master data names places, not their role: both collections list the same places."""
    response.headers.update(VERSION_HEADERS)
    rows = known_locations(session, principal.id, after=_after(next_page_token), limit=per_page + 1)
    if len(rows) > per_page:
        rows = rows[:per_page]
        url = request.url.include_query_params(nextPageToken=_token(rows[-1].id))
        response.headers["Link"] = f'<{url}>; rel="next"'
    members = [row.location_id for row in rows]
    return Collection.model_validate({"@context": _context(), "member": members})


for _path, _name in (("/bizLocations", "biz_locations"), ("/readPoints", "read_points")):
    router.add_api_route(
        _path,
        _known_places,
        methods=["GET"],
        name=_name,
        response_model=Collection,
        responses=_paged(422),
    )
