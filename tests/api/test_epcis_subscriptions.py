"""/epcis/queries (issue 15): named queries and their webhook subscriptions as the GS1 REST
binding shapes them; each principal's own (another's is 404); parameters validated exactly as
GET /epcis/events validates them; hostile webhook destinations refused. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.flows import auth, ok
from tests.api.subscription_support import (
    create_query,
    observe,
    principal,
    record,
    serve,
    subscribe,
)

SKU = "urn:epc:id:sgtin:0614141.012345."


@pytest.fixture
def client(api_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    yield from serve(api_engine, tmp_path, webhook_allow_private=True)


@pytest.fixture
def strict(api_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The app as deployed: private destinations refused."""
    yield from serve(api_engine, tmp_path)


def refused(response: httpx.Response, loc: list[str]) -> None:
    """The binding's 400 problem (api/epcis_problem.py), naming the field at `loc` (or within)."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "epcisException:ValidationException"
    named = problem["detail"].split(":", 1)[0]
    assert named == ".".join(loc) or named.startswith(".".join(loc) + "."), problem


def _events(doc: dict[str, object]) -> list[str]:
    results = doc["epcisBody"]["queryResults"]  # type: ignore[index]
    return [e["eventID"] for e in results["resultsBody"]["eventList"]]  # type: ignore[index]


def test_a_named_query_is_created_read_run_and_deleted(
    client: TestClient, api_engine: Engine
) -> None:
    pid, key = principal(api_engine, "partner")
    shipped = record(
        api_engine, pid, observe(SKU + "1", "shipping"), observe(SKU + "2", "shipping")
    )
    record(api_engine, pid, observe(SKU + "3", "receiving"))
    body = {"name": "shipped", "query": {"EQ_bizStep": ["shipping"], "eventType": ["ObjectEvent"]}}
    created = client.post("/epcis/queries", json=body, headers=auth(key))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/epcis/queries/shipped"
    assert created.headers["GS1-EPCIS-Version"] == "2.0.0"
    again = client.post("/epcis/queries", json=body, headers=auth(key))
    assert again.status_code == 409
    assert ok(client.get("/epcis/queries", headers=auth(key))) == [body]
    assert ok(client.get("/epcis/queries/shipped", headers=auth(key))) == [body]
    doc = ok(client.get("/epcis/queries/shipped/events", headers=auth(key)))
    assert doc["epcisBody"]["queryResults"]["queryName"] == "shipped"
    assert _events(doc) == shipped
    # Paged like GET /epcis/events: the Link reads on, in the caller's view.
    first = client.get("/epcis/queries/shipped/events", params={"perPage": 1}, headers=auth(key))
    assert _events(ok(first)) == shipped[:1]
    link = first.headers["Link"]
    following = link[1 : link.index(">")].replace("http://testserver", "")
    assert _events(ok(client.get(following, headers=auth(key)))) == shipped[1:]
    assert client.delete("/epcis/queries/shipped", headers=auth(key)).status_code == 204
    assert client.get("/epcis/queries/shipped", headers=auth(key)).status_code == 404
    assert client.get("/epcis/queries/shipped/events", headers=auth(key)).status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"GE_eventTime": "2026-01-01"}, "GE_eventTime"),  # no time: the pattern
        ({"GE_eventTime": "2026-13-01T00:00:00Z"}, "GE_eventTime"),  # month 13: event_query
        ({"eventType": "ObjectEvent||AggregationEvent"}, "eventType"),  # an empty value
        ({"EQ_bizStep": ["shipping", ""]}, "EQ_bizStep"),
        ({"EQ_bizStep": "|shipping"}, "EQ_bizStep"),
        ({"NOT_a_parameter": "x"}, "NOT_a_parameter"),
        ({"perPage": "3"}, "perPage"),  # paging is not part of a query
    ],
)
def test_parameters_are_validated_as_get_events_validates_them(
    client: TestClient, api_engine: Engine, query: dict[str, object], field: str
) -> None:
    _pid, key = principal(api_engine, "partner")
    response = client.post("/epcis/queries", json={"name": "q", "query": query}, headers=auth(key))
    refused(response, ["body", "query", field])
    if field not in ("NOT_a_parameter", "perPage"):  # GET /epcis/events refuses the same value
        value = query[field]
        flat = "|".join(value) if isinstance(value, list) else value
        assert (
            client.get("/epcis/events", params={field: flat}, headers=auth(key)).status_code == 400
        )
    assert ok(client.get("/epcis/queries", headers=auth(key))) == []


def test_a_named_query_answers_what_get_events_answers(
    client: TestClient, api_engine: Engine
) -> None:
    pid, key = principal(api_engine, "partner")
    record(
        api_engine,
        pid,
        observe(SKU + "1", "shipping", "2026-01-01T10:00:00.000Z"),
        observe(SKU + "2", "shipping", "2026-01-03T10:00:00.000Z"),
        observe(SKU + "3", "receiving", "2026-01-03T11:00:00.000Z"),
    )
    params = {"GE_eventTime": "2026-01-02T00:00:00+00:00", "MATCH_epc": [SKU + "2", SKU + "3"]}
    create_query(client, key, "window", params)
    named = _events(ok(client.get("/epcis/queries/window/events", headers=auth(key))))
    flat = {"GE_eventTime": params["GE_eventTime"], "MATCH_epc": "|".join(params["MATCH_epc"])}
    direct = _events(ok(client.get("/epcis/events", params=flat, headers=auth(key))))
    assert named == direct and len(named) == 2


def test_another_principals_queries_and_subscriptions_are_404(
    client: TestClient, api_engine: Engine
) -> None:
    _x, x_key = principal(api_engine, "x")
    _y, y_key = principal(api_engine, "y")
    create_query(client, x_key, "mine", {"eventType": ["ObjectEvent"]})
    sub = subscribe(client, x_key, "mine", "http://127.0.0.1:9/hook")
    base = "/epcis/queries/mine"
    sub_url = f"{base}/subscriptions/{sub['subscriptionID']}"
    for method, url in (
        ("GET", base),
        ("GET", f"{base}/events"),
        ("GET", f"{base}/subscriptions"),
        ("GET", sub_url),
        ("DELETE", sub_url),
        ("DELETE", base),
    ):
        assert client.request(method, url, headers=auth(y_key)).status_code == 404, (method, url)
    body = {"dest": "http://127.0.0.1:9/y", "stream": True}
    assert client.post(f"{base}/subscriptions", json=body, headers=auth(y_key)).status_code == 404
    assert ok(client.get("/epcis/queries", headers=auth(y_key))) == []
    # Names are per principal: y may use the same one (no 409 telling it x has one).
    create_query(client, y_key, "mine", {"eventType": ["AggregationEvent"]})
    assert ok(client.get(base, headers=auth(x_key)))[0]["query"] == {"eventType": ["ObjectEvent"]}
    assert ok(client.get(sub_url, headers=auth(x_key)))["subscriptionID"] == sub["subscriptionID"]
    assert client.get(base, headers={}).status_code == 401


def test_a_subscription_is_created_listed_and_deleted(
    client: TestClient, api_engine: Engine
) -> None:
    _pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    body = {"dest": "http://127.0.0.1:9/hook", "signatureToken": "s" * 20, "stream": True}
    response = client.post("/epcis/queries/all/subscriptions", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    sub = response.json()
    assert (
        response.headers["Location"] == f"/epcis/queries/all/subscriptions/{sub['subscriptionID']}"
    )
    assert sub["stream"] is True and sub["dest"] == body["dest"] and sub["signed"] is True
    assert "signatureToken" not in sub and "s" * 20 not in response.text
    assert ok(client.get("/epcis/queries/all/subscriptions", headers=auth(key))) == [sub]
    url = response.headers["Location"]
    assert ok(client.get(url, headers=auth(key))) == sub
    assert client.delete(url, headers=auth(key)).status_code == 204
    assert client.get(url, headers=auth(key)).status_code == 404
    assert ok(client.get("/epcis/queries/all/subscriptions", headers=auth(key))) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dest": "http://127.0.0.1:9/h"}, "stream"),  # neither stream nor schedule
        ({"dest": "http://127.0.0.1:9/h", "stream": False}, "stream"),
        ({"dest": "http://127.0.0.1:9/h", "stream": True, "schedule": {"hour": "1"}}, "schedule"),
        ({"dest": "http://127.0.0.1:9/h", "schedule": {"hour": "24"}}, "schedule"),
        ({"dest": "http://127.0.0.1:9/h", "schedule": {"minute": "[9-3]"}}, "schedule"),
        ({"dest": "http://127.0.0.1:9/h", "schedule": {}}, "schedule"),
        ({"dest": "http://127.0.0.1:9/h", "schedule": {"hour": "1", "week": "2"}}, "schedule"),
        (
            {"dest": "http://127.0.0.1:9/h", "stream": True, "signatureToken": "short"},
            "signatureToken",
        ),
        (
            {"dest": "http://127.0.0.1:9/h", "stream": True, "initialRecordTime": "yesterday"},
            "initialRecordTime",
        ),
    ],
)
def test_a_subscription_needs_stream_or_a_schedule_and_a_sound_body(
    client: TestClient, api_engine: Engine, body: dict[str, object], field: str
) -> None:
    _pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    response = client.post("/epcis/queries/all/subscriptions", json=body, headers=auth(key))
    refused(response, ["body", field])


@pytest.mark.parametrize(
    "dest",
    [
        "http://127.0.0.1:8080/hook",  # loopback
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",  # private
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "http://[::7f00:1]/hook",  # IPv4-compatible loopback
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata address
        "http://[64:ff9b:1::a00:7]/hook",  # local-use NAT64 of 10.0.0.7
        "http://[2002:7f00:1::]/hook",  # 6to4 of loopback
        "http://0.0.0.0/hook",
        "ftp://203.0.113.5/hook",  # not http(s)
        "file:///etc/passwd",
        "http://user:pw@203.0.113.5/hook",  # credentials in the URL
        "http:///no-host",
    ],
)
def test_hostile_destinations_are_refused(
    strict: TestClient, api_engine: Engine, dest: str
) -> None:
    _pid, key = principal(api_engine, "partner")
    create_query(strict, key, "all", {})
    body = {"dest": dest, "stream": True}
    response = strict.post("/epcis/queries/all/subscriptions", json=body, headers=auth(key))
    refused(response, ["body", "dest"])
    assert ok(strict.get("/epcis/queries/all/subscriptions", headers=auth(key))) == []


def test_a_named_query_takes_every_parameter_get_events_takes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    documented = {
        p["name"]
        for p in document["paths"]["/epcis/events"]["get"]["parameters"]
        if p["in"] == "query"
    } - {"perPage", "nextPageToken"}
    query_schema = document["components"]["schemas"]["NamedQueryIn"]["properties"]["query"]
    assert set(query_schema["properties"]) == documented
    assert query_schema["additionalProperties"] is False


def test_a_scheduled_subscription_shows_its_schedule_and_next_run(
    client: TestClient, api_engine: Engine
) -> None:
    _pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    sub = subscribe(
        client,
        key,
        "all",
        "http://127.0.0.1:9/h",
        stream=None,
        schedule={"hour": "1", "minute": "5"},
    )
    assert sub["schedule"] == {"hour": "1", "minute": "5"} and "stream" not in sub
    assert sub["ct:nextRunAt"].endswith("T01:05:00.000Z")
    streamed = subscribe(client, key, "all", "http://127.0.0.1:9/h")
    assert streamed["stream"] is True and "schedule" not in streamed


def test_a_named_query_takes_the_open_named_parameters(
    client: TestClient, api_engine: Engine
) -> None:
    """EQ_bizTransaction_<type> and the sensor bounds (<op>_<field>_<uom>) are a named query's
    too, checked as GET /epcis/events checks them."""
    _pid, key = principal(api_engine, "partner")
    query = {"EQ_bizTransaction_po": ["urn:epcglobal:cbv:bt:0614141000005:PO1"], "GE_value_CEL": 8}
    create_query(client, key, "warm", query)
    assert ok(client.get("/epcis/queries/warm/events", headers=auth(key)))["epcisBody"]
    bad = {"name": "bad", "query": {"GE_value_CEL": "warm"}}
    refused(client.post("/epcis/queries", json=bad, headers=auth(key)), ["body", "query"])


@pytest.mark.parametrize(
    ("initial", "status"),
    [
        ("0001-01-01T00:00:00Z", 201),  # before every event: all of them (from 1970)
        ("0001-01-01T00:05:00+14:00", 400),  # before year 1 in UTC
        ("9999-12-31T23:59:59-23:59", 400),  # after year 9999 in UTC
        ("9999-12-31T23:59:59Z", 201),
    ],
)
def test_an_initial_record_time_at_the_ends_of_the_calendar_is_no_server_error(
    client: TestClient, api_engine: Engine, initial: str, status: int
) -> None:
    pid, key = principal(api_engine, "partner")
    record(api_engine, pid, observe(SKU + "1"))
    create_query(client, key, "all", {})
    body = {"dest": "http://127.0.0.1:9/hook", "stream": True, "initialRecordTime": initial}
    response = client.post("/epcis/queries/all/subscriptions", json=body, headers=auth(key))
    if status == 400:
        refused(response, ["body", "initialRecordTime"])
    else:
        assert response.status_code == status, response.text
        shown = response.json()["initialRecordTime"]
        assert shown.startswith("1970-01-01T" if initial < "1970" else initial[:10])
