"""Location master data (issue 15): /locations on SQLite and PostgreSQL. Who may register a GLN
(the brand holding its company prefix, else the first to come), who sees a place (anyone if
public, else its owner: others get the unknown id's 404), the coarse position, hostile input, and
the per-client rate limit of public reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.settings import ApiSettings
from core.gs1 import check_digit
from store.db import session_factory, transaction
from store.models import Role
from store.principals import create_api_key, create_principal
from tests.api.flows import PREFIX, PUBLIC_BASE_URL, Api, auth, ok

FREE_PREFIX = "0812345"  # no brand holds it


def gln(prefix: str, location: str) -> str:
    body = prefix + location
    return body + check_digit(body)


BRAND_DOCK = f"urn:epc:id:sgln:{PREFIX}.00001.0"
FREE_GLN = gln(FREE_PREFIX, "00001")
FREE_SGLN = f"urn:epc:id:sgln:{FREE_PREFIX}.00001.7"
FREE_OTHER_SGLN = f"urn:epc:id:sgln:{FREE_PREFIX}.00001.8"  # same GLN, another extension
PLACE = {"name": "Dock 1, Rotterdam", "latitude": 51.90486, "longitude": 4.46621, "public": False}


def put(api: Api, key: str | None, place_id: str, body: dict[str, Any] | None = None) -> Any:
    headers = auth(key) if key else {}
    return api.client.put(f"/locations/{place_id}", json=body or PLACE, headers=headers)


def get(api: Api, key: str | None, place_id: str) -> Any:
    return api.client.get(f"/locations/{place_id}", headers=auth(key) if key else {})


@pytest.fixture
def keys(api: Api) -> dict[str, str]:
    return {
        "brand": api.brand(Account.create()),
        "carrier": api.principal("carrier", None, "Carrier"),
        "buyer": api.principal("buyer", None, "Buyer"),
    }


def test_the_prefix_holder_or_the_first_registers_and_owns(api: Api, keys: dict[str, str]) -> None:
    created = ok(put(api, keys["brand"], BRAND_DOCK), 201)
    assert created["id"] == BRAND_DOCK and created["gln"] == gln(PREFIX, "00001")
    assert created["yours"] is True and created["public"] is False
    renamed = ok(put(api, keys["brand"], BRAND_DOCK, {**PLACE, "name": "Dock One"}))
    assert renamed["name"] == "Dock One"
    # Under the brand's prefix: nobody else, registered or not.
    refused = put(api, keys["carrier"], f"urn:epc:id:sgln:{PREFIX}.00009.0")
    assert refused.status_code == 403 and PREFIX in refused.json()["detail"]
    assert put(api, keys["carrier"], BRAND_DOCK).status_code == 403
    # No brand holds the prefix: the first to register the GLN owns it, every SGLN of it too.
    assert ok(put(api, keys["carrier"], FREE_GLN), 201)["gln"] == FREE_GLN
    assert ok(put(api, keys["carrier"], FREE_SGLN), 201)["gln"] == FREE_GLN
    for place_id in (FREE_GLN, FREE_SGLN, FREE_OTHER_SGLN):
        answer = put(api, keys["buyer"], place_id)
        assert answer.status_code == 409, place_id
        assert "another party" in answer.json()["detail"]
    # A brand registering the prefix later takes the GLN over; the first comer no longer can.
    late = api.brand(Account.create(), FREE_PREFIX, "Late Brand")
    assert ok(put(api, late, FREE_SGLN))["yours"] is True
    assert put(api, keys["carrier"], FREE_SGLN).status_code == 403
    assert [p["id"] for p in ok(api.client.get("/locations", headers=auth(late)))["locations"]] == [
        FREE_SGLN
    ]


def test_who_sees_a_place(api: Api, keys: dict[str, str]) -> None:
    ok(put(api, keys["brand"], BRAND_DOCK), 201)
    unknown = f"urn:epc:id:sgln:{PREFIX}.00077.0"
    hidden = [
        get(api, None, BRAND_DOCK),
        get(api, keys["carrier"], BRAND_DOCK),
        get(api, keys["carrier"], unknown),
        get(api, None, unknown),
    ]
    hidden.append(get(api, keys["carrier"], gln(PREFIX, "00001")[:-1] + "0"))  # check digit
    assert [a.status_code for a in hidden] == [404] * 5
    assert len({a.text for a in hidden}) == 1  # hidden, unknown and invalid alike
    assert ok(get(api, keys["brand"], BRAND_DOCK))["yours"] is True
    ok(put(api, keys["brand"], BRAND_DOCK, {**PLACE, "public": True}))
    public = ok(get(api, None, BRAND_DOCK))  # no key needed
    assert public["name"] == PLACE["name"] and public["yours"] is False
    assert ok(get(api, keys["carrier"], BRAND_DOCK))["yours"] is False
    assert get(api, "ct_not-a-key", BRAND_DOCK).status_code == 401  # not read as no key
    # The list holds the caller's own only; it needs a key.
    assert ok(api.client.get("/locations", headers=auth(keys["carrier"])))["locations"] == []
    mine = ok(api.client.get("/locations", headers=auth(keys["brand"])))["locations"]
    assert [p["id"] for p in mine] == [BRAND_DOCK]
    assert api.client.get("/locations").status_code == 401
    # Only the owner deletes; to anyone else it is not theirs (404), and it stays.
    delete = api.client.delete
    assert delete(f"/locations/{BRAND_DOCK}", headers=auth(keys["carrier"])).status_code == 404
    assert ok(get(api, None, BRAND_DOCK))
    assert delete(f"/locations/{BRAND_DOCK}", headers=auth(keys["brand"])).status_code == 204
    assert get(api, keys["brand"], BRAND_DOCK).status_code == 404
    assert delete(f"/locations/{BRAND_DOCK}", headers=auth(keys["brand"])).status_code == 404


def test_the_position_is_kept_coarse(api: Api, keys: dict[str, str]) -> None:
    placed = ok(put(api, keys["brand"], BRAND_DOCK), 201)
    assert (placed["latitude"], placed["longitude"]) == (51.9, 4.47)
    with api.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT lat_centi, lon_centi FROM locations")).one()
    assert tuple(row) == (5190, 447)  # nothing finer is stored
    edge = ok(put(api, keys["brand"], BRAND_DOCK, {**PLACE, "latitude": -90, "longitude": 180}))
    assert (edge["latitude"], edge["longitude"]) == (-90.0, 180.0)
    bare = ok(put(api, keys["brand"], BRAND_DOCK, {"name": "Dock"}))
    assert bare["latitude"] is None and bare["public"] is False


@pytest.mark.parametrize(
    ("place_id", "body", "loc"),
    [
        (gln(PREFIX, "00001")[:-1] + "0", PLACE, ["path", "location_id"]),  # check digit
        (f"urn:epc:id:sgln:{PREFIX}.0001.0", PLACE, ["path", "location_id"]),  # 11 digits
        (f"urn:epc:id:sgtin:{PREFIX}.012345.1", PLACE, ["path", "location_id"]),
        ("x" * 81, PLACE, ["path", "location_id"]),
        (BRAND_DOCK, {**PLACE, "name": "Dock\x071"}, ["body", "name"]),
        (BRAND_DOCK, {**PLACE, "name": "Dock\u202e1"}, ["body", "name"]),
        (BRAND_DOCK, {**PLACE, "name": "   "}, ["body", "name"]),
        (BRAND_DOCK, {**PLACE, "name": "x" * 101}, ["body", "name"]),
        (BRAND_DOCK, {**PLACE, "latitude": 90.5}, ["body", "latitude"]),
        (BRAND_DOCK, {**PLACE, "longitude": None}, ["body"]),
        (BRAND_DOCK, {**PLACE, "owner": 1}, ["body", "owner"]),
        (BRAND_DOCK, {**PLACE, "public": 0}, ["body", "public"]),
        (BRAND_DOCK, {**PLACE, "latitude": "51.9"}, ["body", "latitude"]),
        (BRAND_DOCK, {**PLACE, "longitude": False}, ["body", "longitude"]),
    ],
)
def test_hostile_input_is_refused_and_nothing_stored(
    api: Api, keys: dict[str, str], place_id: str, body: dict[str, Any], loc: list[str]
) -> None:
    answer = put(api, keys["brand"], place_id, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][: len(loc)] == loc
    with api.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM locations")).scalar_one() == 0


def test_public_reads_are_rate_limited_per_client(api_engine: Engine, tmp_path: Path) -> None:
    settings = ApiSettings(
        database_url=api_engine.url.render_as_string(hide_password=False),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=tmp_path / "none.json",
        redis_url=None,
        rate_limit_resolver="2/minute",
    )
    with transaction(session_factory(api_engine)) as session:
        key = create_api_key(session, create_principal(session, "owner", Role.CARRIER).id)
    app = create_app(settings, engine=api_engine)
    with TestClient(app, client=("203.0.113.30", 1)) as first:
        ok(
            first.put(f"/locations/{FREE_GLN}", json={**PLACE, "public": True}, headers=auth(key)),
            201,
        )
        assert [first.get(f"/locations/{FREE_GLN}").status_code for _ in range(2)] == [200, 200]
        refused = first.get(f"/locations/{FREE_GLN}")
        assert refused.status_code == 429 and "resolver" in refused.json()["detail"]
    with TestClient(app, client=("203.0.113.31", 1)) as second:
        assert second.get(f"/locations/{FREE_GLN}").status_code == 200


def test_the_epcis_collections_list_the_places_one_may_see(api: Api, keys: dict[str, str]) -> None:
    hidden = f"urn:epc:id:sgln:{PREFIX}.00002.0"
    ok(put(api, keys["brand"], BRAND_DOCK, {**PLACE, "public": True}), 201)
    ok(put(api, keys["brand"], hidden), 201)
    ok(put(api, keys["carrier"], FREE_GLN), 201)

    def listed(key: str, path: str, **params: Any) -> list[str]:
        found: list[str] = []
        url: str | None = path
        while url is not None:
            response = api.client.get(url, params=params or None, headers=auth(key))
            found += ok(response)["member"]
            link = response.headers.get("Link")
            url = link[1 : link.index(">")].replace("http://testserver", "") if link else None
            params = {}
        return found

    for path in ("/epcis/bizLocations", "/epcis/readPoints"):
        assert listed(keys["brand"], path) == [BRAND_DOCK, hidden]
        assert listed(keys["carrier"], path) == [BRAND_DOCK, FREE_GLN]
        assert listed(keys["carrier"], path, perPage=1) == [BRAND_DOCK, FREE_GLN]  # two pages
        assert listed(keys["buyer"], path, perPage=1) == [BRAND_DOCK]
        assert api.client.get(path).status_code == 401
