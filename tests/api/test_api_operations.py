"""Operations through the API: every admin action in the append-only log that admins and
auditors page through; an admin erasing one event's personal data, the resolver saying so."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.merkle import process_proof
from store.models import Item, Product, Shipment, ShipmentStatus
from tests.api.flows import Api, World, anchor_worker, auth, ok, register_brand_on_chain

JSON = {"Accept": "application/json"}


def _log(api: Api, key: str, **params: Any) -> dict[str, Any]:
    return dict(ok(api.client.get("/audit-log", params=params, headers=auth(key))))


def test_every_admin_action_is_logged_once_and_auditors_page_through_it(
    api_no_chain: Api,
) -> None:
    api = api_no_chain
    admin = ok(api.client.get("/principals/me", headers=auth(api.admin_key)))
    auditor = api.principal("auditor")
    carrier = api.principal("carrier")
    pid = api.principal_id(carrier)
    issued = ok(
        api.client.post(
            f"/principals/{pid}/api-keys", json={"label": "ci"}, headers=auth(api.admin_key)
        ),
        201,
    )
    keys = ok(api.client.get(f"/principals/{pid}/api-keys", headers=auth(carrier)))
    # The carrier revoking its own key is no admin action; the admin revoking one is.
    ok(api.client.delete(f"/principals/{pid}/api-keys/{keys[1]['id']}", headers=auth(carrier)))
    ok(
        api.client.delete(
            f"/principals/{pid}/api-keys/{keys[0]['id']}", headers=auth(api.admin_key)
        )
    )
    wallet = to_checksum_address("0x" + "ab" * 20)
    patch = {"walletAddress": wallet, "disabled": True}
    ok(api.client.patch(f"/principals/{pid}", json=patch, headers=auth(api.admin_key)))
    # A refused action (the wallet is taken) leaves no entry.
    other = api.principal_id(auditor)
    taken = api.client.patch(
        f"/principals/{other}", json={"walletAddress": wallet}, headers=auth(api.admin_key)
    )
    assert taken.status_code == 409
    entries = _log(api, auditor)["entries"]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("principal.create", f"principal {other}"),
        ("principal.create", f"principal {pid}"),
        ("api_key.create", f"principal {pid}"),
        ("api_key.revoke", f"principal {pid} key {keys[0]['id']}"),
        ("principal.update", f"principal {pid}"),
    ]
    assert {e["actorPrincipalId"] for e in entries} == {admin["id"]}
    assert all(e["via"] == "api" and e["actor"].startswith("principal ") for e in entries)
    assert entries[1]["details"] == {"name": "carrier 2", "role": "carrier", "wallet": None}
    assert entries[4]["details"] == {"walletAddress": wallet, "disabled": True}
    assert issued["apiKey"] not in str(entries)  # no secret in the log
    # Pages: oldest first, `nextAfter` until the last page.
    first = _log(api, api.admin_key, limit=2)
    assert [e["id"] for e in first["entries"]] == [entries[0]["id"], entries[1]["id"]]
    second = _log(api, auditor, limit=2, after=first["nextAfter"])
    third = _log(api, auditor, limit=2, after=second["nextAfter"])
    assert [e["id"] for e in second["entries"] + third["entries"]] == [e["id"] for e in entries[2:]]
    assert third["nextAfter"] is None
    assert [e["action"] for e in _log(api, auditor, action="api_key.revoke")["entries"]] == [
        "api_key.revoke"
    ]


def test_only_admins_and_auditors_read_the_log(api_no_chain: Api) -> None:
    api = api_no_chain
    for role in ("brand", "carrier", "buyer"):
        key = api.principal(role)
        assert api.client.get("/audit-log", headers=auth(key)).status_code == 403
    assert api.client.get("/audit-log").status_code == 401
    bad = api.client.get("/audit-log", params={"limit": 0}, headers=auth(api.admin_key))
    assert bad.status_code == 422
    for action in ("a\x00b", "Event.Erase", "a b"):  # not an action's name: 422, never a 500
        bad = api.client.get("/audit-log", params={"action": action}, headers=auth(api.admin_key))
        assert bad.status_code == 422, action
    # No route writes to it: only GET is served.
    assert api.client.delete("/audit-log", headers=auth(api.admin_key)).status_code == 405


def _settled(api: Api, shipment_id: str) -> None:
    """Close the shipment in the store (an open shipment's events are not erased)."""
    with Session(api.engine) as session, session.begin():
        shipment = session.scalars(select(Shipment).where(Shipment.shipment_id == shipment_id))
        shipment.one().status = ShipmentStatus.SETTLED


# What the resolver still shows of an erased event: nothing its row says of its content.
_ERASED_KEYS = {"eventKind", "kindName", "proven", "leaf", "proof", "root", "finality", "anchoring"}


def _commissioning_event_id(api: Api, gtin: str, serial: str) -> int:
    """The store's id of an item's commissioning event (the public view names no event)."""
    with Session(api.engine) as session:
        stmt = select(Item.commission_event_id).join(Product).where(Item.serial == serial)
        found = session.scalars(stmt.where(Product.gtin.in_((gtin, "0" + gtin)))).one()
    assert found is not None
    return int(found)


def test_an_admin_erases_an_events_personal_data_and_the_resolver_says_so(world: World) -> None:
    api, chain = world.api, world.api.chain
    assert chain is not None
    url = f"/shipments/{world.shipment_id}/events"
    dock = "urn:epc:id:sgln:0614141.00001.0"
    # The brand makes its dock a public place: projections then show it.
    place = {"name": "Hamburg dock", "public": True}
    ok(api.client.put(f"/locations/{dock}", json=place, headers=auth(world.brand_key)), 201)
    body = {"bizStep": "shipping", "readPoint": dock}
    shipped = ok(api.client.post(url, json=body, headers=auth(world.carrier_key)), 201)
    register_brand_on_chain(api)
    anchor_worker(api).run_once()
    history = ok(api.client.get(f"/01/{world.gtin}/21/A1", headers=JSON))["history"]
    _, _packing, event = history  # the items were packed into the shipment's container
    assert event["bizStep"] == "shipping" and event["place"] == "Hamburg dock"
    erase_url = f"/events/{shipped['id']}/erasure"
    reason = {"reason": "data subject request 41"}
    assert api.client.post(erase_url, json=reason, headers=auth(world.brand_key)).status_code == 403
    assert api.client.post(erase_url, json={}, headers=auth(api.admin_key)).status_code == 422
    missing = api.client.post("/events/999999/erasure", json=reason, headers=auth(api.admin_key))
    assert missing.status_code == 404
    open_ = api.client.post(erase_url, json=reason, headers=auth(api.admin_key))
    assert open_.status_code == 409 and "its settlement may still need it" in open_.json()["detail"]
    # A commissioning is the brand's data and the item's only evidence: never erased.
    commissioning_id = _commissioning_event_id(api, world.gtin, "A1")
    brands = api.client.post(
        f"/events/{commissioning_id}/erasure", json=reason, headers=auth(api.admin_key)
    )
    assert brands.status_code == 409 and "is a commissioning" in brands.json()["detail"]
    _settled(api, world.shipment_id)
    erased = ok(api.client.post(erase_url, json=reason, headers=auth(api.admin_key)), 201)
    # The event's own leaf and root (the public view showed its projection's kind 2 leaf).
    assert erased["status"] == "erased" and erased["erasedBy"].startswith("principal ")
    again = api.client.post(erase_url, json=reason, headers=auth(api.admin_key))
    assert again.status_code == 409 and "was erased at" in again.json()["detail"]
    # The resolver shows its leaf proving the root and the erasure; nothing of its content.
    _, _packing, view = ok(api.client.get(f"/01/{world.gtin}/21/A1", headers=JSON))["history"]
    assert {k for k, v in view.items() if v is not None} == {*_ERASED_KEYS, "erasure"}
    assert view["erasure"]["status"] == "erased" and view["erasure"]["erasedAt"]
    assert view["erasure"]["erasedBy"] == erased["erasedBy"]
    leaf = bytes.fromhex(view["leaf"][2:])
    proof = [bytes.fromhex(p[2:]) for p in view["proof"]]
    assert "0x" + process_proof(leaf, proof).hex() == view["root"] == erased["root"]
    assert view["leaf"] == erased["leaf"]
    page = api.client.get(f"/01/{world.gtin}/21/A1", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "personal data erased" in page.text
    erased_li = page.text.split("Erased step")[1].split("</li>")[0]
    assert "Shipped" not in erased_li and dock not in erased_li
    # The only time it shows is the erasure's own.
    assert erased_li.count("<time ") == 1 and "was erased on <time" in erased_li
    assert "Hamburg dock" not in erased_li
    # The shipment's parties see the erasure, no hash that would confirm a guess of the content.
    listed = ok(api.client.get(url, headers=auth(world.buyer_key)))
    (gone,) = [e for e in listed if e["id"] == shipped["id"]]
    assert gone["eventHash"] is None and gone["bizStep"] is None and gone["eventTime"] is None
    assert gone["event"] is None and gone["erasedBy"] == erased["erasedBy"]
    (logged,) = _log(api, api.admin_key, action="event.erase")["entries"]
    assert logged["target"] == f"event {shipped['id']}"
    assert logged["details"]["reason"] == "data subject request 41"
    details = logged["details"]
    assert details["leaf"] == erased["leaf"] and details["root"] == erased["root"]
