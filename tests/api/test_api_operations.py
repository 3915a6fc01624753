"""Operations through the API: every admin action in the append-only log that admins and
auditors page through; an admin erasing one event's personal data, the resolver saying so."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address

from core.merkle import process_proof
from tests.api.flows import (
    PREFIX,
    Api,
    anchor_worker,
    auth,
    gtin13,
    ok,
    register_brand_on_chain,
)

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
    # No route writes to it: only GET is served.
    assert api.client.delete("/audit-log", headers=auth(api.admin_key)).status_code == 405


def test_an_admin_erases_an_events_personal_data_and_the_resolver_says_so(api: Api) -> None:
    chain = api.chain
    assert chain is not None
    brand = api.brand(chain.brand)
    gtin = gtin13(PREFIX, "77777")
    api.product(brand, gtin)
    api.commission(brand, chain.brand, gtin, ["E1", "E2", "E3"])
    register_brand_on_chain(api)
    anchor_worker(api).run_once()
    (event,) = ok(api.client.get(f"/01/{gtin}/21/E1", headers=JSON))["history"]
    url = f"/events/{event['id']}/erasure"
    reason = {"reason": "data subject request 41"}
    assert api.client.post(url, json=reason, headers=auth(brand)).status_code == 403
    assert api.client.post(url, json={}, headers=auth(api.admin_key)).status_code == 422
    assert (
        api.client.post(
            "/events/999999/erasure", json=reason, headers=auth(api.admin_key)
        ).status_code
        == 404
    )
    erased = ok(api.client.post(url, json=reason, headers=auth(api.admin_key)), 201)
    assert erased["status"] == "erased" and erased["root"] == event["root"]
    assert erased["leaf"] == event["leaf"] and erased["erasedBy"].startswith("principal ")
    again = api.client.post(url, json=reason, headers=auth(api.admin_key))
    assert again.status_code == 409 and "was erased at" in again.json()["detail"]
    # The resolver answers for it: erased, nothing of its data, its leaf still proving the root.
    (view,) = ok(api.client.get(f"/01/{gtin}/21/E1", headers=JSON))["history"]
    assert view["erasure"]["status"] == "erased"
    assert view["event"] is None and view["salt"] is None and view["eventHash"] is None
    leaf = bytes.fromhex(view["leaf"][2:])
    proof = [bytes.fromhex(p[2:]) for p in view["proof"]]
    assert "0x" + process_proof(leaf, proof).hex() == view["root"] == event["root"]
    page = api.client.get(f"/01/{gtin}/21/E1", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "personal data erased" in page.text
    assert "urn:epc:id:sgtin" not in page.text.split("personal data erased")[1].split("</li>")[0]
    # Another event of the same batch still verifies on chain, by its contract's eth_call.
    (other,) = ok(api.client.get(f"/01/{gtin}/21/E2", headers=JSON))["history"]
    assert other["erasure"] is None and other["root"] == event["root"]
    anchor = chain.anchors[2]
    assert anchor.verify_against(
        bytes.fromhex(other["root"][2:]),
        other["kind"],
        bytes.fromhex(other["eventHashHex"][2:]),
        bytes.fromhex(other["salt"][2:]),
        [bytes.fromhex(p[2:]) for p in other["proof"]],
    )
    (logged,) = _log(api, api.admin_key, action="event.erase")["entries"]
    assert logged["target"] == f"event {event['id']}"
    assert logged["details"]["reason"] == "data subject request 41"
