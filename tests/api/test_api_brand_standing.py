"""Authenticity follows the brand's signature: revocation, compromise and re-signing, through
the API, the real anchoring worker, the follower and TraceAnchor v2."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.clients import TraceAnchorV2Client
from core.eip712 import Commissioning, sign
from store.models import AnchorBatch, BatchStatus, Leaf
from tests.api.flows import (
    CONFIRMATIONS,
    OTHER_PREFIX,
    PREFIX,
    Api,
    anchor_worker,
    auth,
    follow,
    gtin13,
    mine,
    ok,
    register_brand_on_chain,
    send_tx,
    sign_typed,
)
from tests.utils.anvil import increase_time, latest_timestamp

GTIN = gtin13(PREFIX, "55555")


def _v2(api: Api) -> TraceAnchorV2Client:
    assert api.chain is not None
    anchor = api.chain.anchor
    assert isinstance(anchor, TraceAnchorV2Client)
    return anchor


def _authentic(api: Api, serial: str, gtin: str = GTIN) -> dict[str, Any]:
    response = api.client.get(f"/01/{gtin}/21/{serial}", params={"format": "json"})
    return dict(response.json()["authentic"])


def _draft(api: Api, key: str, serials: list[str]) -> Any:
    return api.client.post(f"/products/{GTIN}/items", json={"serials": serials}, headers=auth(key))


def _commission(api: Api, key: str, account: LocalAccount, serials: list[str]) -> dict[str, Any]:
    """Draft and sign a commissioning; the batch waits for the anchoring worker."""
    draft = ok(_draft(api, key, serials), 201)
    signature = sign(
        Commissioning(
            brand=account.address,
            root=bytes.fromhex(draft["root"][2:]),
            leaf_count=draft["leafCount"],
        ),
        _v2(api).domain(),
        account.key,
    )
    url = f"/commissionings/{draft['id']}/signature"
    return dict(
        ok(api.client.post(url, json={"signature": "0x" + signature.hex()}, headers=auth(key)))
    )


def _anchor_final(api: Api) -> None:
    """Anchor whatever is due, then mine past the confirmations and mark it final."""
    assert api.chain is not None
    worker = anchor_worker(api)
    worker.run_once()
    mine(api.chain.w3, CONFIRMATIONS)
    worker.run_once()
    follow(api)


def _brand(api: Api) -> str:
    assert api.chain is not None
    key = api.brand(api.chain.brand)
    api.product(key, GTIN)
    register_brand_on_chain(api)
    return key


def test_nothing_of_a_revoked_brand_ever_shows_genuine(api: Api) -> None:
    chain = api.chain
    assert chain is not None
    key = _brand(api)
    _commission(api, key, chain.brand, ["R1"])
    _anchor_final(api)
    assert _authentic(api, "R1")["verdict"] == "genuine"
    signed_late = _commission(api, key, chain.brand, ["R2"])  # signed, not anchored yet

    revoked = _v2(api).send_revoke_brand(chain.admin, chain.brand.address)
    follow(api)
    standing = ok(api.client.get(f"/brands/{PREFIX}"))["onChain"]
    assert standing["status"] == "revoked" and standing["registered"] is False
    assert standing["revokedBlock"] == revoked.block_number
    assert standing["revokedAt"] == chain.w3.eth.get_block(revoked.block_number)["timestamp"]
    # The API refuses new commissioning for the revoked wallet, naming the block.
    refused = _draft(api, key, ["R3"])
    assert refused.status_code == 409
    assert f"revoked on chain in block {revoked.block_number}" in refused.json()["detail"]

    # The batch signed before the revocation is refused by the chain: failed, shown so to the
    # brand, and never anchored as a platform root, however often the worker runs.
    for _ in range(3):
        _anchor_final(api)
    status = ok(api.client.get(f"/commissionings/{signed_late['id']}", headers=auth(key)))
    assert status["batchStatus"] == "failed"
    with Session(api.engine) as session:
        batch = session.scalar(
            select(AnchorBatch).where(AnchorBatch.root == bytes.fromhex(signed_late["root"][2:]))
        )
        assert batch is not None and batch.status is BatchStatus.FAILED
        assert "AnchorBrandRevoked" in (batch.relay_error or "")
        assert session.scalar(select(Leaf).where(Leaf.batch_id.is_(None))) is None
    assert not _v2(api).root_info(signed_late["root"]).anchored
    late = _authentic(api, "R2")
    assert late["verdict"] == "brand_revoked" and late["confirmedBy"] is None
    page = api.client.get(f"/01/{GTIN}/21/R2", headers={"Accept": "text/html"}).text
    assert "Not confirmed by the brand" in page and "Genuine" not in page
    # Confirmed before the revocation: still genuine, and says the brand was revoked since.
    early = _authentic(api, "R1")
    assert early["verdict"] == "genuine"
    assert any("revoked" in note for note in early["notes"])


def test_unknown_serials_and_unregistered_gtins_are_told_apart(api: Api) -> None:
    _brand(api)
    unknown = api.client.get(f"/01/{GTIN}/21/NOPE", params={"format": "json"})
    assert unknown.status_code == 404
    assert unknown.json()["authentic"]["verdict"] == "not_recognised"
    stranger = api.client.get(f"/01/{gtin13(OTHER_PREFIX, '1')}/21/X", params={"format": "json"})
    assert stranger.status_code == 404
    assert stranger.json()["authentic"]["verdict"] == "unregistered"  # neutral, no warning
    page = api.client.get(f"/01/{GTIN}/21/NOPE", headers={"Accept": "text/html"}).text
    assert "Not recognised" in page


def test_a_root_from_the_compromised_range_is_restored_by_the_new_keys_signature(
    api: Api,
) -> None:
    chain = api.chain
    assert chain is not None
    anchor = _v2(api)
    key = _brand(api)
    _commission(api, key, chain.brand, ["C1"])
    _anchor_final(api)
    increase_time(chain.w3, 3600)
    # Signed with the (by now stolen) key and anchored before anyone noticed.
    thief = _commission(api, key, chain.brand, ["C2"])
    _anchor_final(api)
    assert _authentic(api, "C2")["verdict"] == "genuine"
    since = anchor.root_info(thief["root"]).anchored_at  # the key was stolen by then

    # The admin's wallet sends what the API prepares: the compromise, then the revocation.
    admin = auth(api.admin_key)
    denied = api.client.get(
        f"/brands/{PREFIX}/compromise-tx", params={"since": since}, headers=auth(key)
    )
    assert denied.status_code == 403  # the brand itself cannot
    for path, params in (("compromise-tx", {"since": since}), ("revocation-tx", {})):
        built = ok(
            api.client.get(
                f"/brands/{PREFIX}/{path}",
                headers=admin,
                params={**params, "sender": chain.admin.address},
            )
        )
        send_tx(chain.w3, chain.admin, built["tx"])
    follow(api)
    assert ok(api.client.get(f"/brands/{PREFIX}"))["onChain"]["status"] == "compromised"
    assert _authentic(api, "C1")["verdict"] == "genuine"  # anchored before `since`
    stolen = _authentic(api, "C2")
    assert stolen["verdict"] == "brand_compromised"
    assert stolen["text"].startswith("Not confirmed by the brand")
    assert anchor.root_info(thief["root"]).brand_confirmed is False

    # The brand's new key takes the prefix over (the registrar) and re-signs the root it made.
    new_key: LocalAccount = Account.create()
    resign = f"/brands/{PREFIX}/roots-to-resign"
    early = api.client.get(resign, params={"wallet": new_key.address}, headers=auth(key))
    assert early.status_code == 409  # not the prefix's holder yet
    anchor.send_register_brand(chain.admin, new_key.address, PREFIX)
    follow(api)
    [todo] = ok(api.client.get(resign, params={"wallet": new_key.address}, headers=auth(key)))
    assert todo["root"] == thief["root"] and todo["signedBy"] == chain.brand.address
    signature = sign_typed(new_key, todo["typedData"])
    params = {
        "root": todo["root"],
        "wallet": new_key.address,
        "signature": signature,
        "sender": chain.admin.address,
    }
    built = ok(api.client.get(f"/brands/{PREFIX}/resign-tx", params=params, headers=auth(key)))
    send_tx(chain.w3, chain.admin, built["tx"])  # anyone relays the new key's re-signature
    follow(api)
    root = bytes.fromhex(thief["root"][2:])
    assert ok(api.client.get(resign, params={"wallet": new_key.address}, headers=auth(key))) == []
    restored = _authentic(api, "C2")
    assert restored["verdict"] == "genuine" and restored["confirmedBy"] == new_key.address
    assert anchor.root_info(root).brand_confirmed is True


def test_nested_prefixes_are_refused_by_the_api_either_way(api: Api) -> None:
    chain = api.chain
    assert chain is not None
    api.brand(chain.brand, "0614141")
    for nested in ("06141410", "061414"):
        key = api.principal("brand", Account.create().address)
        response = api.client.post(
            "/brands", json={"companyPrefix": nested, "name": "Shadow"}, headers=auth(key)
        )
        assert response.status_code == 409
        assert "overlaps registered prefix 0614141" in response.json()["detail"]


def test_key_management_endpoints_refuse_what_the_chain_or_the_roles_would(api: Api) -> None:
    chain = api.chain
    assert chain is not None
    key = _brand(api)
    as_admin = auth(api.admin_key)
    future = {"sender": chain.admin.address, "since": latest_timestamp(chain.w3) + 86_400}
    response = api.client.get(f"/brands/{PREFIX}/compromise-tx", params=future, headers=as_admin)
    body = response.json()
    assert response.status_code == 409 and body["error"] == "AnchorInvalidCompromiseTime"
    assert "not in the future" in body["detail"]
    by_stranger = {"sender": chain.stranger.address}
    response = api.client.get(
        f"/brands/{PREFIX}/revocation-tx", params=by_stranger, headers=as_admin
    )
    assert response.status_code == 409
    assert response.json()["error"] == "AccessControlUnauthorizedAccount"
    other = api.brand(Account.create(), OTHER_PREFIX, "Other Foods")
    theirs = {"wallet": chain.brand.address}
    response = api.client.get(
        f"/brands/{PREFIX}/roots-to-resign", params=theirs, headers=auth(other)
    )
    assert response.status_code == 409 and "is not yours" in response.json()["detail"]
    assert api.client.get(f"/brands/{PREFIX}/revocation-tx", headers=auth(key)).status_code == 403
