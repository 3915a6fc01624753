"""The bodies of EPCIS 2.0 named queries and webhook subscriptions (GS1 REST binding)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.named_query import query_schema
from api.routes.epcis_query import TIME_PATTERN
from api.webhook_dest import MAX_URL

# URL-safe (RFC 3986 unreserved): the name is a path segment of every query URL.
QUERY_NAME_PATTERN = "^[A-Za-z0-9._~-]{1,128}$"


class NamedQueryIn(BaseModel):
    """POST /epcis/queries: a name and the query's parameters, as GET /epcis/events takes them
    (arrays of values, or one pipe-delimited string; times as RFC 3339 strings)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=QUERY_NAME_PATTERN, description="Unique among your queries")
    query: dict[str, Any] = Field(
        description='SimpleEventQuery parameters, e.g. {"eventType": ["ObjectEvent"], '
        '"EQ_bizStep": ["shipping", "receiving"]}',
        json_schema_extra=query_schema,
    )


class NamedQueryOut(BaseModel):
    """A named query: its name and parameters."""

    name: str
    query: dict[str, Any]


# One element: a number or a [lo-hi] range; the field: a comma-separated list of them.
_ELEMENT = "([0-9]{1,2}|\\[[0-9]{1,2}-[0-9]{1,2}\\])"
SCHEDULE_PATTERN = f"^{_ELEMENT}(,{_ELEMENT})*$"


class QuerySchedule(BaseModel):
    """When a scheduled subscription runs (UTC): each field a list of numbers and [lo-hi]
    ranges; an omitted second / minute / hour below the most significant one given is its
    least value, any other omitted field matches every value."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    second: str | None = Field(default=None, pattern=SCHEDULE_PATTERN, max_length=200)
    minute: str | None = Field(default=None, pattern=SCHEDULE_PATTERN, max_length=200)
    hour: str | None = Field(default=None, pattern=SCHEDULE_PATTERN, max_length=200)
    day_of_month: str | None = Field(
        default=None, alias="dayOfMonth", pattern=SCHEDULE_PATTERN, max_length=200
    )
    month: str | None = Field(default=None, pattern=SCHEDULE_PATTERN, max_length=200)
    day_of_week: str | None = Field(
        default=None,
        alias="dayOfWeek",
        pattern=SCHEDULE_PATTERN,
        max_length=200,
        description="1 Monday ... 7 Sunday",
    )


class SubscriptionIn(BaseModel):
    """POST /epcis/queries/{queryName}/subscriptions: a webhook subscription, either
    `stream: true` (each matching event as it is recorded) or a `schedule` (the events recorded
    since the last run, at each run), not both."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    dest: str = Field(
        min_length=1,
        max_length=MAX_URL,
        json_schema_extra={"format": "uri"},
        description="http(s) URL the EPCISQueryDocuments are POSTed to; it must resolve to "
        "public addresses",
    )
    signature_token: str | None = Field(
        default=None,
        alias="signatureToken",
        min_length=16,
        max_length=512,
        description="Your HMAC-SHA256 key: each delivery carries `GS1-Signature: sha256=<hex "
        "HMAC of the body>`; never shown again",
    )
    report_if_empty: bool = Field(default=False, alias="reportIfEmpty")
    stream: Literal[True] | None = Field(
        default=None, description="Each matching event as it is recorded"
    )
    schedule: QuerySchedule | None = Field(
        default=None, description="Or at each run of this schedule"
    )
    initial_record_time: str | None = Field(
        default=None,
        alias="initialRecordTime",
        pattern=TIME_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="Report events recorded from this time on (default: now)",
    )


class SubscriptionOut(BaseModel):
    """A subscription as the binding shows it (the signatureToken never is)."""

    model_config = ConfigDict(populate_by_name=True)

    subscription_id: str = Field(alias="subscriptionID")
    query_name: str = Field(alias="queryName")
    dest: str
    created_at: str = Field(alias="createdAt")
    last_notified_at: str | None = Field(default=None, alias="lastNotifiedAt")
    initial_record_time: str = Field(alias="initialRecordTime")
    report_if_empty: bool = Field(alias="reportIfEmpty")
    stream: Literal[True] | None = None
    schedule: dict[str, str] | None = None
    next_run_at: str | None = Field(default=None, alias="ct:nextRunAt")
    signed: bool = Field(description="Whether deliveries carry GS1-Signature")
