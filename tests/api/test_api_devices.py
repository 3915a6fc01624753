"""Device registration needs the device key's signature (proof of possession)."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from tests.api.flows import Api, auth, ok, sign_typed


def _typed(api: Api, key: str, address: str) -> dict[str, Any]:
    return dict(
        ok(
            api.client.get(
                "/devices/registration-typed-data", params={"address": address}, headers=auth(key)
            )
        )
    )


def test_typed_data_is_bound_to_the_deployed_trace_anchor(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("carrier", api.chain.payee.address)
    device = Account.create()
    typed = _typed(api, key, device.address)
    assert typed["primaryType"] == "DeviceRegistration"
    assert typed["domain"] == api.chain.anchor_v1.eip712_domain()
    signature = bytes.fromhex(sign_typed(device, typed)[2:])
    # The contract computes the same digest the device signed.
    digest = api.chain.anchor_v1.device_registration_digest(device.address, api.chain.payee.address)
    assert Account._recover_hash(digest, signature=signature) == device.address


def test_registration_with_the_device_signature_is_accepted(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("carrier", api.chain.payee.address)
    device = api.device(key, api.chain.payee, "fridge logger 1")
    listed = ok(api.client.get("/devices", headers=auth(key)))
    assert [(d["address"], d["label"], d["active"]) for d in listed] == [
        (device.address, "fridge logger 1", True)
    ]


def test_signature_by_another_key_is_rejected(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("carrier", api.chain.payee.address)
    device, impostor = Account.create(), Account.create()
    typed = _typed(api, key, device.address)
    body = {"address": device.address, "signature": sign_typed(impostor, typed)}
    response = api.client.post("/devices", json=body, headers=auth(key))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "signature"]
    assert impostor.address in error["msg"]
    assert ok(api.client.get("/devices", headers=auth(key))) == []


def test_signature_for_another_operator_is_rejected(api: Api) -> None:
    """A device key signed for carrier A cannot be registered by carrier B."""
    assert api.chain is not None
    key_a = api.principal("carrier", api.chain.payee.address)
    key_b = api.principal("carrier", api.chain.stranger.address)
    device = Account.create()
    signed_for_a = sign_typed(device, _typed(api, key_a, device.address))
    body = {"address": device.address, "signature": signed_for_a}
    assert api.client.post("/devices", json=body, headers=auth(key_b)).status_code == 422
    ok(api.client.post("/devices", json=body, headers=auth(key_a)), 201)


def test_malformed_signatures_are_422(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("carrier", api.chain.payee.address)
    device = Account.create()
    good = sign_typed(device, _typed(api, key, device.address))
    high_v = good[:-2] + "1f"  # v = 31 is not 27/28
    for signature in ("0x1234", "not hex", high_v, "0x" + "00" * 65):
        body = {"address": device.address, "signature": signature}
        response = api.client.post("/devices", json=body, headers=auth(key))
        assert response.status_code == 422, signature
        assert response.json()["detail"][0]["loc"] == ["body", "signature"]


def test_revocation_is_final(api: Api) -> None:
    assert api.chain is not None
    key = api.principal("carrier", api.chain.payee.address)
    device = api.device(key, api.chain.payee)
    revoked = ok(api.client.delete(f"/devices/{device.address}", headers=auth(key)))
    assert revoked["active"] is False and revoked["revokedAt"] is not None
    assert ok(api.client.get("/devices", headers=auth(key))) == []
    every = ok(api.client.get("/devices", params={"includeRevoked": "true"}, headers=auth(key)))
    assert [d["address"] for d in every] == [device.address]
    # The same key cannot come back.
    body = {
        "address": device.address,
        "signature": sign_typed(device, _typed(api, key, device.address)),
    }
    assert api.client.post("/devices", json=body, headers=auth(key)).status_code == 409


def test_carrier_without_wallet_cannot_register(api: Api) -> None:
    key = api.principal("carrier")
    device = Account.create()
    response = api.client.get(
        "/devices/registration-typed-data", params={"address": device.address}, headers=auth(key)
    )
    assert response.status_code == 409
    assert "wallet" in response.json()["detail"]
