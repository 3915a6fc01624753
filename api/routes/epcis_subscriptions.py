"""Named queries and webhook subscriptions of the GS1 EPCIS 2.0 REST binding under /epcis.

A named query belongs to the principal that created it: names are unique per principal, and
another principal's query (or subscription) answers 404 as an unknown one. Its results are
those of GET /epcis/events with the same parameters, in the caller's own view. A subscription
(`stream: true`) gets each newly recorded event that matches, as its owner may see it when it
is delivered, POSTed by the delivery worker (api/epcis_delivery.py) from the database outbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from api.deps import CurrentPrincipal, SessionDep, SettingsDep, StateDep
from api.epcis_problem import EpcisRoute
from api.errors import Conflict, FieldError, NotFound
from api.named_query import event_query_of
from api.openapi_doc import errors
from api.routes.epcis_query import (
    VERSION_HEADERS,
    PageToken,
    PerPage,
    _page,
    _paged,
)
from api.schemas.epcis_query import EpcisQueryDocument
from api.schemas.epcis_subscriptions import (
    NamedQueryIn,
    NamedQueryOut,
    SubscriptionIn,
    SubscriptionOut,
)
from api.webhook_dest import DestRefused, check_dest
from core.epcis.events import iso_ms
from core.epcis.query_schedule import ScheduleError, parse_schedule
from store.epcis_query import viewer_of
from store.epcis_subscriptions import (
    NameTaken,
    TooMany,
    create_query,
    delete_query,
    queries_of,
    query_of,
    subscribe,
    subscription_of,
    subscriptions_of,
    unsubscribe,
)
from store.models import NamedQuery, Subscription
from store.models.types import utcnow

router = APIRouter(
    prefix="/epcis", tags=["EPCIS 2.0 queries and subscriptions"], route_class=EpcisRoute
)

_ListPerPage = Annotated[int, Query(alias="perPage", ge=1, le=100)]
_ListToken = Annotated[str | None, Query(alias="nextPageToken", pattern="^[0-9]{1,18}$")]
_VERSION_DOC = {
    name: {"schema": {"type": "string"}, "description": f"{name} of the answer"}
    for name in VERSION_HEADERS
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LIST_DOC = {**_VERSION_DOC, "Link": {"schema": {"type": "string"}}}


def _query(session: Session, principal: CurrentPrincipal, name: str) -> NamedQuery:
    query = query_of(session, principal.id, name)
    if query is None:
        raise NotFound("no such named query among yours")
    return query


def _next(request: Request, response: Response, last_id: int) -> None:
    following = request.url.include_query_params(nextPageToken=str(last_id))
    response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'


def _subscription_out(subscription: Subscription, query: NamedQuery) -> SubscriptionOut:
    notified, next_run = subscription.last_notified_at, subscription.next_run_at
    return SubscriptionOut.model_validate(
        {
            "stream": True if subscription.stream else None,
            "schedule": subscription.schedule,
            "ct:nextRunAt": None if next_run is None else iso_ms(next_run),
            "subscriptionID": subscription.subscription_id,
            "queryName": query.name,
            "dest": subscription.dest,
            "createdAt": iso_ms(subscription.created_at),
            "lastNotifiedAt": None if notified is None else iso_ms(notified),
            "initialRecordTime": iso_ms(subscription.initial_record_time),
            "reportIfEmpty": subscription.report_if_empty,
            "signed": subscription.signature_token is not None,
        }
    )


@router.post(
    "/queries",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={
        **errors(409),
        201: {
            "description": "Created; Location names the query",
            "headers": {"Location": {"schema": {"type": "string"}}, **_VERSION_DOC},
        },
    },
)
def create_named_query(
    body: NamedQueryIn, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Create a named query: its parameters are validated as GET /epcis/events validates them;
    409 if you already have one of that name."""
    event_query_of(body.query)
    try:
        create_query(session, principal.id, body.name, body.query)
    except NameTaken as exc:
        raise Conflict(str(exc)) from None
    except TooMany as exc:
        raise Conflict(str(exc)) from None
    session.commit()
    return Response(
        status_code=201, headers={"Location": f"/epcis/queries/{body.name}", **VERSION_HEADERS}
    )


@router.get("/queries", response_model=list[NamedQueryOut], responses={200: {"headers": _LIST_DOC}})
def list_named_queries(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    per_page: _ListPerPage = 30,
    next_page_token: _ListToken = None,
) -> list[NamedQueryOut]:
    """Your named queries, oldest first; `Link: <...>; rel="next"` while more remain."""
    after = int(next_page_token) if next_page_token is not None else None
    found = queries_of(session, principal.id, limit=per_page + 1, after=after)
    response.headers.update(VERSION_HEADERS)
    if len(found) > per_page:
        found = found[:per_page]
        _next(request, response, found[-1].id)
    return [NamedQueryOut(name=q.name, query=q.params) for q in found]


@router.get(
    "/queries/{queryName}",
    response_model=list[NamedQueryOut],
    responses={**errors(404), 200: {"headers": _VERSION_DOC}},
)
def get_named_query(
    queryName: str, response: Response, session: SessionDep, principal: CurrentPrincipal
) -> list[NamedQueryOut]:
    """The named query (the binding's schema: an array of the one query)."""
    query = _query(session, principal, queryName)
    response.headers.update(VERSION_HEADERS)
    return [NamedQueryOut(name=query.name, query=query.params)]


@router.delete(
    "/queries/{queryName}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
def delete_named_query(
    queryName: str, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Delete the named query with its subscriptions and their undelivered documents."""
    delete_query(session, _query(session, principal, queryName))
    session.commit()
    return Response(status_code=204)


@router.get(
    "/queries/{queryName}/events",
    response_model=EpcisQueryDocument,
    responses=_paged(404, 422),
)
def named_query_events(
    queryName: str,
    request: Request,
    response: Response,
    session: SessionDep,
    state: StateDep,
    principal: CurrentPrincipal,
    per_page: PerPage = 30,
    next_page_token: PageToken = None,
) -> EpcisQueryDocument:
    """The named query's results, paged as GET /epcis/events (in your view)."""
    named = _query(session, principal, queryName)
    query = event_query_of(named.params)
    viewer = viewer_of(session, principal)
    document = _page(request, response, session, state, viewer, query, per_page, next_page_token)
    document.epcis_body.query_results.query_name = named.name
    return document


def _initial(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: outside years 1-9999 in UTC
        raise FieldError(
            ["body", "initialRecordTime"], f"not an RFC 3339 date-time: {exc}"
        ) from None
    # No event is recorded before 1970: an earlier time means all of them.
    return max(moment, _EPOCH)


def _schedule(body: SubscriptionIn) -> tuple[dict[str, str], datetime] | None:
    """The schedule (as given) and its first run; None for a stream; 422 for neither or both."""
    if body.stream is None and body.schedule is None:
        raise FieldError(["body", "stream"], "set stream to true, or give a schedule")
    if body.schedule is None:
        return None
    if body.stream is not None:
        raise FieldError(["body", "schedule"], "a schedule or stream: true, not both")
    given = body.schedule.model_dump(by_alias=True, exclude_none=True)
    try:
        first = parse_schedule(given).next_after(utcnow())
    except ScheduleError as exc:
        raise FieldError(["body", "schedule"], str(exc)) from None
    if first is None:
        raise FieldError(["body", "schedule"], "this schedule never runs")
    return given, first


@router.post(
    "/queries/{queryName}/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
    response_model_exclude_none=True,
    responses={
        **errors(404, 409),
        201: {
            "description": "Subscribed; Location names the subscription",
            "headers": {"Location": {"schema": {"type": "string"}}, **_VERSION_DOC},
        },
    },
)
def create_subscription(
    queryName: str,
    body: SubscriptionIn,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> SubscriptionOut:
    """Subscribe a webhook to the named query: with `stream: true` each event you may see that
    matches is POSTed to `dest` as it is recorded; with a `schedule` the events recorded since
    the last run, at each run (UTC). Signed with `signatureToken` (GS1-Signature: sha256=<hex
    HMAC-SHA256 of the body>). `dest` must be http(s) and resolve to public addresses (422
    otherwise)."""
    query = _query(session, principal, queryName)
    schedule = _schedule(body)
    try:
        check_dest(
            body.dest, allow_private=settings.webhook_allow_private, allow_loopback=settings.dev
        )
    except DestRefused as exc:
        raise FieldError(["body", "dest"], str(exc)) from None
    try:
        subscription = subscribe(
            session,
            query,
            dest=body.dest,
            signature_token=body.signature_token,
            report_if_empty=body.report_if_empty,
            initial_record_time=_initial(body.initial_record_time),
            schedule=None if schedule is None else schedule[0],
            next_run_at=None if schedule is None else schedule[1],
        )
    except TooMany as exc:
        raise Conflict(str(exc)) from None
    session.commit()
    location = f"/epcis/queries/{query.name}/subscriptions/{subscription.subscription_id}"
    response.headers.update({"Location": location, **VERSION_HEADERS})
    return _subscription_out(subscription, query)


@router.get(
    "/queries/{queryName}/subscriptions",
    response_model=list[SubscriptionOut],
    response_model_exclude_none=True,
    responses={**errors(404), 200: {"headers": _LIST_DOC}},
)
def list_subscriptions(
    queryName: str,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    per_page: _ListPerPage = 30,
    next_page_token: _ListToken = None,
) -> list[SubscriptionOut]:
    """The named query's subscriptions, oldest first."""
    query = _query(session, principal, queryName)
    after = int(next_page_token) if next_page_token is not None else None
    found = subscriptions_of(session, query, limit=per_page + 1, after=after)
    response.headers.update(VERSION_HEADERS)
    if len(found) > per_page:
        found = found[:per_page]
        _next(request, response, found[-1].id)
    return [_subscription_out(s, query) for s in found]


def _subscription(
    session: Session, principal: CurrentPrincipal, name: str, subscription_id: str
) -> tuple[NamedQuery, Subscription]:
    query = _query(session, principal, name)
    subscription = subscription_of(session, query, subscription_id)
    if subscription is None:
        raise NotFound("no such subscription of this query")
    return query, subscription


@router.get(
    "/queries/{queryName}/subscriptions/{subscriptionID}",
    response_model=SubscriptionOut,
    response_model_exclude_none=True,
    responses={**errors(404), 200: {"headers": _VERSION_DOC}},
)
def get_subscription(
    queryName: str,
    subscriptionID: str,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> SubscriptionOut:
    """One subscription: `lastNotifiedAt` is the last delivery the subscriber took (2xx)."""
    query, subscription = _subscription(session, principal, queryName, subscriptionID)
    response.headers.update(VERSION_HEADERS)
    return _subscription_out(subscription, query)


@router.delete(
    "/queries/{queryName}/subscriptions/{subscriptionID}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404),
)
def delete_subscription(
    queryName: str, subscriptionID: str, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Unsubscribe: nothing more is sent, undelivered documents are dropped."""
    _query_row, subscription = _subscription(session, principal, queryName, subscriptionID)
    unsubscribe(session, subscription)
    session.commit()
    return Response(status_code=204)
