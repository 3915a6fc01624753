"""API keys and principals over their lifetime: list, revoke by id, expiry, last use, disable,
the admin setting a principal's wallet."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.models import ApiKey
from store.models.types import utcnow
from tests.api.flows import PREFIX, Api, auth, ok


def _me(api: Api, key: str) -> int:
    return api.client.get("/principals/me", headers=auth(key)).status_code


def test_a_principal_lists_its_keys_and_revokes_a_leaked_one_by_id(api: Api) -> None:
    first = api.principal("carrier")
    pid = api.principal_id(first)
    second = ok(
        api.client.post(
            f"/principals/{pid}/api-keys",
            json={"label": "ci runner", "expiresInDays": 30},
            headers=auth(api.admin_key),
        ),
        201,
    )["apiKey"]
    keys = ok(api.client.get(f"/principals/{pid}/api-keys", headers=auth(first)))
    assert [k["label"] for k in keys] == ["", "ci runner"]
    assert keys[0]["expiresAt"] is None and keys[1]["expiresAt"] is not None
    assert keys[0]["lastUsedAt"] is not None  # this very request used it
    assert all("apiKey" not in k and "keyHash" not in k for k in keys)  # no secret, no hash
    # The holder revokes its leaked second key; the first keeps working.
    revoked = ok(
        api.client.delete(f"/principals/{pid}/api-keys/{keys[1]['id']}", headers=auth(first))
    )
    assert revoked["revokedAt"] is not None
    assert _me(api, second) == 401 and _me(api, first) == 200


def test_another_tenant_neither_sees_nor_revokes_keys(api: Api) -> None:
    victim = api.principal("carrier")
    pid = api.principal_id(victim)
    (key,) = ok(api.client.get(f"/principals/{pid}/api-keys", headers=auth(victim)))
    other = api.principal("carrier")
    assert api.client.get(f"/principals/{pid}/api-keys", headers=auth(other)).status_code == 404
    url = f"/principals/{pid}/api-keys/{key['id']}"
    assert api.client.delete(url, headers=auth(other)).status_code == 404
    # A key id of another principal under one's own id is no key of one's own either.
    own = api.principal_id(other)
    assert (
        api.client.delete(
            f"/principals/{own}/api-keys/{key['id']}", headers=auth(other)
        ).status_code
        == 404
    )
    assert _me(api, victim) == 200


def test_an_expired_key_is_refused(api: Api) -> None:
    key = api.principal("buyer")
    pid = api.principal_id(key)
    with Session(api.engine) as session, session.begin():
        session.execute(
            update(ApiKey)
            .where(ApiKey.principal_id == pid)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert _me(api, key) == 401
    refused = api.client.post(
        f"/principals/{pid}/api-keys", json={"expiresInDays": 0}, headers=auth(api.admin_key)
    )
    assert refused.status_code == 422


def test_a_disabled_principal_has_no_working_key_until_enabled(api: Api) -> None:
    key = api.principal("carrier")
    pid = api.principal_id(key)
    disabled = ok(
        api.client.patch(f"/principals/{pid}", json={"disabled": True}, headers=auth(api.admin_key))
    )
    assert disabled["disabledAt"] is not None
    assert _me(api, key) == 401
    ok(
        api.client.patch(
            f"/principals/{pid}", json={"disabled": False}, headers=auth(api.admin_key)
        )
    )
    assert _me(api, key) == 200
    admin_id = api.principal_id(api.admin_key)
    itself = api.client.patch(
        f"/principals/{admin_id}", json={"disabled": True}, headers=auth(api.admin_key)
    )
    assert itself.status_code == 409 and _me(api, api.admin_key) == 200
    # Only an admin changes a principal.
    assert (
        api.client.patch(
            f"/principals/{pid}", json={"disabled": True}, headers=auth(key)
        ).status_code
        == 403
    )


def test_the_admin_sets_a_wallet_the_principal_was_created_without(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("brand")  # no wallet: it cannot register a brand yet
    body = {"companyPrefix": PREFIX, "name": "Late Wallet Foods"}
    assert api.client.post("/brands", json=body, headers=auth(key)).status_code == 409
    pid = api.principal_id(key)
    wallet = api.chain.brand.address
    patched = ok(
        api.client.patch(
            f"/principals/{pid}", json={"walletAddress": wallet}, headers=auth(api.admin_key)
        )
    )
    assert patched["walletAddress"] == wallet
    ok(api.client.post("/brands", json=body, headers=auth(key)), 201)
    # Another principal cannot be given the same wallet.
    other = api.principal_id(api.principal("buyer"))
    taken = api.client.patch(
        f"/principals/{other}", json={"walletAddress": wallet}, headers=auth(api.admin_key)
    )
    assert taken.status_code == 409
