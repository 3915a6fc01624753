"""GET /epcis/events with the open-named and sensor parameters (issue 15): EQ_bizTransaction_<type>,
EQ_type, EQ_deviceID and the sensor bounds <op>_<field>_<uom>; the check of every parameter name
(400 unknown or twice, 501 a standard one not evaluated); who sees what under these filters. On
SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from api.epcis_parameters import check_names
from api.errors import EpcisQueryProblem
from api.routes.epcis_query import event_query
from core.epcis.extension import event_context
from core.epcis.hashed_event import HashedEvent
from store.db import session_factory, transaction
from store.epcis_match import SensorBound
from store.recording import record_event
from tests.api.epcis_query_support import SKU, Data, build, path_of
from tests.api.flows import World, auth

OTHER_SKU = "urn:epc:id:sgtin:0799999.012345."
PO = "urn:epcglobal:cbv:bt:0614141000005:PO-1"
DESADV = "urn:epcglobal:cbv:bt:0614141000005:D-7"
COLD_DEVICE = "urn:epc:id:giai:0614141.D1"
WARM_DEVICE = "urn:epc:id:giai:0799999.D2"


def _event(epc: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "@context": event_context(),
        "type": "ObjectEvent",
        "eventTime": f"2026-02-01T10:{minute:02d}:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc],
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        **fields,
    }


def _stored() -> dict[str, tuple[dict[str, Any], str]]:
    """Events by name, with who records them ('brand' or 'other')."""
    return {
        "po_typed": (
            _event(
                SKU + "T1",
                1,
                bizTransactionList=[
                    {"type": "po", "bizTransaction": PO},
                    {"type": "urn:epcglobal:cbv:btt:desadv", "bizTransaction": DESADV},
                ],
            ),
            "brand",
        ),
        "po_untyped": (_event(SKU + "T2", 2, bizTransactionList=[{"bizTransaction": PO}]), "brand"),
        "cold": (
            _event(
                SKU + "T3",
                3,
                sensorElementList=[
                    {
                        "sensorMetadata": {"deviceID": COLD_DEVICE},
                        "sensorReport": [
                            {"type": "Temperature", "minValue": 2.0, "maxValue": 7.5, "uom": "CEL"},
                            {"type": "RelativeHumidity", "value": 40, "uom": "P1"},
                        ],
                    }
                ],
            ),
            "brand",
        ),
        "warm": (
            _event(
                OTHER_SKU + "T4",
                4,
                sensorElementList=[
                    {
                        "sensorReport": [
                            {
                                "type": "https://gs1.org/voc/Temperature",
                                "deviceID": WARM_DEVICE,
                                "minValue": 9,
                                "maxValue": 12.5,
                                "uom": "CEL",
                            },
                            {"type": "Temperature", "value": 50, "uom": "FAH"},
                        ],
                    }
                ],
            ),
            "other",
        ),
    }


@pytest.fixture
def data(world: World) -> Data:
    data = build(world)
    api = world.api
    by = {
        "brand": api.principal_id(world.brand_key),
        "other": api.principal_id(data.keys["other_brand"] or ""),
    }
    with transaction(session_factory(api.engine)) as session:
        for name, (event, who) in _stored().items():
            hashed = HashedEvent.of(event)
            record_event(session, hashed, recorded_by=by[who])
            data.ids[name] = hashed.event_id
    return data


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"EQ_bizTransaction_po": PO}, ["po_typed"]),  # not the untyped one
        ({"EQ_bizTransaction_po": "urn:x:none|" + PO}, ["po_typed"]),
        ({"EQ_bizTransaction_desadv": DESADV}, ["po_typed"]),  # stored as a CBV 1.x URN
        ({"EQ_bizTransaction_po": DESADV}, []),  # the value under another type
        ({"EQ_bizTransaction_po": PO, "EQ_bizTransaction_desadv": DESADV}, ["po_typed"]),
        ({"EQ_bizTransaction_po": PO, "EQ_bizTransaction_inv": PO}, []),  # both must hold
        ({"EQ_type": "Temperature"}, ["cold", "warm"]),
        ({"EQ_type": "https://gs1.org/voc/Temperature"}, ["cold", "warm"]),
        ({"EQ_type": "RelativeHumidity"}, ["cold"]),
        ({"EQ_type": "Mass|RelativeHumidity"}, ["cold"]),
        ({"EQ_deviceID": COLD_DEVICE}, ["cold"]),  # the sensorMetadata's
        ({"EQ_deviceID": WARM_DEVICE}, ["warm"]),  # the sensorReport's own
        ({"GE_maxValue_CEL": "8"}, ["warm"]),
        ({"LT_maxValue_CEL": "8"}, ["cold"]),
        ({"LE_maxValue_CEL": "7.5"}, ["cold"]),
        ({"LT_maxValue_CEL": "7.5"}, []),
        ({"GT_minValue_CEL": "2"}, ["warm"]),  # 2.0 is not above 2
        ({"GE_minValue_CEL": "2"}, ["cold", "warm"]),
        ({"GE_minValue_CEL": "2", "LT_maxValue_CEL": "1e1"}, ["cold"]),
        ({"GE_value_FAH": "50"}, ["warm"]),
        ({"GE_value_CEL": "-300"}, []),  # no report carries `value` in CEL: no conversion
        ({"GE_value_P1": "40", "EQ_type": "RelativeHumidity"}, ["cold"]),
        # One report must pass them all: the humidity report has no maxValue in CEL.
        ({"EQ_type": "RelativeHumidity", "GE_maxValue_CEL": "0"}, []),
        ({"EQ_deviceID": COLD_DEVICE, "GE_maxValue_CEL": "8"}, []),
    ],
)
def test_each_new_filter(data: Data, params: dict[str, str], expected: list[str]) -> None:
    assert data.names(data.events(**params)) == expected


def test_visibility_holds_under_the_new_filters(data: Data) -> None:
    keys = data.keys
    assert data.names(data.events(keys["brand"], EQ_type="Temperature")) == ["cold"]
    assert data.names(data.events(keys["other_brand"], EQ_type="Temperature")) == ["warm"]
    for who in ("stranger", "carrier", "buyer"):
        assert data.events(keys[who], EQ_bizTransaction_po=PO) == [], who
        assert data.events(keys[who], GE_minValue_CEL="-1000", perPage=1) == [], who
    # Paging one by one reads only the caller's own, and ends without a Link.
    assert data.names(data.events(keys["brand"], GE_minValue_CEL="0", perPage=1)) == ["cold"]
    last = data.get("/epcis/events", keys["other_brand"], GE_minValue_CEL="0", perPage=1)
    assert "Link" not in last.headers
    # The per-value routes take the filters too, ANDed with the path's value.
    path = f"/epcis/epcs/{path_of(SKU + 'T1')}/events"
    assert data.names(data.events(path=path, EQ_bizTransaction_po=PO)) == ["po_typed"]
    assert data.events(path=path, EQ_bizTransaction_po=DESADV) == []
    assert data.events(keys["stranger"], path=path, EQ_bizTransaction_po=PO) == []


def _problem(response: Any, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == f"epcisException:{kind}"
    return str(body["detail"])


def test_names_values_and_the_binding_errors(data: Data) -> None:
    admin = data.keys["admin"]
    client = data.world.api.client
    for params, name in (
        ({"EQ_bizTransaction_po": ""}, "EQ_bizTransaction_po"),
        ({"EQ_bizTransaction_po": "a||b"}, "EQ_bizTransaction_po"),
        ({"GE_maxValue_CEL": "warm"}, "GE_maxValue_CEL"),
        ({"LT_value_CEL": "NaN"}, "LT_value_CEL"),
        ({"LT_value_CEL": "1" * 40}, "LT_value_CEL"),
        ({"EQ_type": "Warmth"}, "EQ_type"),
    ):
        response = data.get("/epcis/events", admin, **params)
        assert _problem(response, 400, "QueryParameterException").startswith(f"query.{name}:")
    for params in (
        {"foo": "1"},
        {"GE_value": "3"},  # the uom is part of the name
        {"GE_maxValue_cel": "3"},
        {"EQ_bizTransaction_PO": PO},
        {"second": "0"},  # a subscription's parameter, not a query's
    ):
        answer = data.get("/epcis/events", admin, **params)
        assert repr(next(iter(params))) in _problem(answer, 400, "QueryParameterException")
    twice = client.get("/epcis/events?EQ_action=ADD&EQ_action=OBSERVE", headers=auth(admin))
    assert "more than once" in _problem(twice, 400, "QueryParameterException")
    for name in ("EQ_quantity", "WD_readPoint", "EQ_value_CEL", "EQ_INNER_ex:field", "orderBy"):
        answer = data.get("/epcis/events", admin, **{name: "1"})
        assert name in _problem(answer, 501, "ImplementationException")
    bad = data.get(f"/epcis/bizSteps/{path_of('shipping')}/events", admin, foo="1")
    _problem(bad, 400, "QueryParameterException")
    # A key is checked before the parameters: no key is still 401.
    assert data.get("/epcis/events", None, foo="1").status_code == 401


def test_event_query_takes_the_open_names_directly() -> None:
    """What a stored named query does: the same parameters, as a mapping."""
    query = event_query(
        eq_type="Temperature", dynamic={"GE_maxValue_CEL": "8", "EQ_bizTransaction_po": PO}
    )
    sensors = query.json.sensors
    assert sensors.types == ("Temperature",)
    assert sensors.bounds == (SensorBound("GE", "maxValue", "CEL", Decimal(8)),)
    assert query.json.biz_transactions == (("po", (PO,)),)
    with pytest.raises(EpcisQueryProblem) as refused:
        event_query(dynamic={"foo": "1"})
    assert refused.value.status == 400
    with pytest.raises(EpcisQueryProblem) as unsupported:
        check_names(["EQ_quantity"], ())
    assert unsupported.value.status == 501


def test_404_and_406_are_the_binding_problems(data: Data) -> None:
    admin = data.keys["admin"]
    unknown = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"
    missing = data.get(f"/epcis/events/{path_of(unknown)}", admin)
    assert "no such event" in _problem(missing, 404, "NoSuchNameException")
    hidden = data.get(f"/epcis/events/{path_of(data.ids['cold'])}", data.keys["stranger"])
    assert hidden.text == missing.text  # hidden and absent alike
    client = data.world.api.client
    for path in ("/epcis/events", "/epcis/eventTypes", f"/epcis/events/{path_of(unknown)}"):
        refused = client.get(path, headers={**auth(admin), "Accept": "application/xml"})
        assert "application/xml" in _problem(refused, 406, "NotAcceptableException")
    for accept in (
        "application/json",
        "application/ld+json;q=0.5, text/html",
        "*/*",
        "text/*, */*",
    ):
        answer = client.get("/epcis/eventTypes", headers={**auth(admin), "Accept": accept})
        assert answer.status_code == 200, accept
    zero = client.get(
        "/epcis/eventTypes", headers={**auth(admin), "Accept": "application/json;q=0"}
    )
    _problem(zero, 406, "NotAcceptableException")
