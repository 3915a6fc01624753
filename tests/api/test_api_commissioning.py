"""Commissioning in the store: drafts expire unsigned, the brand's signature sits on the batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.settings import ApiSettings
from core.merkle import MerkleTree
from store.models import AnchorBatch, CommissioningDraft, Leaf, Setting
from store.models.types import utcnow
from tests.api.flows import PREFIX, Api, auth, gtin13, ok, sign_typed

TTL = timedelta(seconds=ApiSettings(chaintrace_dev=True).commissioning_draft_ttl_seconds)


def _brand_with_product(api: Api) -> tuple[str, str]:
    assert api.chain is not None
    key = api.brand(api.chain.brand)
    gtin = gtin13(PREFIX, "777")
    api.product(key, gtin)
    return key, gtin


def _draft(api: Api, key: str, gtin: str, serials: list[str]) -> dict[str, Any]:
    url = f"/products/{gtin}/items"
    return dict(ok(api.client.post(url, json={"serials": serials}, headers=auth(key)), 201))


def _age(api: Api, draft_id: str, by: timedelta) -> None:
    """Move a draft's creation back in time (instead of waiting)."""
    with Session(api.engine) as session, session.begin():
        session.execute(
            update(CommissioningDraft)
            .where(CommissioningDraft.id == draft_id)
            .values(created_at=utcnow() - by)
        )


def _submit(api: Api, key: str, draft: dict[str, Any]) -> Any:
    assert api.chain is not None
    signature = sign_typed(api.chain.brand, draft["typedData"])
    url = f"/commissionings/{draft['id']}/signature"
    return api.client.post(url, json={"signature": signature}, headers=auth(key))


def test_the_batch_carries_the_brand_signature_and_the_leaves_the_draft_salts(api: Api) -> None:
    assert api.chain is not None
    key, gtin = _brand_with_product(api)
    draft = _draft(api, key, gtin, ["S1", "S2", "S3"])
    signature = sign_typed(api.chain.brand, draft["typedData"])
    url = f"/commissionings/{draft['id']}/signature"
    done = ok(api.client.post(url, json={"signature": signature}, headers=auth(key)))
    assert done["status"] == "submitted" and done["batchStatus"] == "pending"
    with Session(api.engine) as session:
        batch = session.scalars(
            select(AnchorBatch).where(AnchorBatch.root == bytes.fromhex(draft["root"][2:]))
        ).one()
        assert batch.brand_address == api.chain.brand.address
        assert batch.brand_signature == bytes.fromhex(signature[2:])
        # Each serial's own leaf and the kind 2 leaf of its public projection.
        assert batch.relay_refused_at is None and batch.leaf_count == 6 == draft["leafCount"]
        stored = session.get_one(CommissioningDraft, draft["id"])
        assert stored.status == "submitted" and stored.draft["status"] == "submitted"
        salts = {bytes.fromhex(e["salt"][2:]) for e in stored.draft["events"]}
        members = {
            (e["epc"], e["member"]["projectionJson"], bytes.fromhex(e["member"]["salt"][2:]))
            for e in stored.draft["events"]
        }
        leaves = session.scalars(select(Leaf).where(Leaf.batch_id == batch.id)).all()
        assert {leaf.salt for leaf in leaves if leaf.kind == 0} == salts
        assert {
            (leaf.epc, leaf.projection_json, leaf.salt) for leaf in leaves if leaf.kind == 2
        } == (members)
        # Nothing of it is kept in the key-value table any more.
        assert not session.scalars(
            select(Setting.key).where(Setting.key.like("%commission%"))
        ).all()
    shown = ok(api.client.get(f"/batches/{draft['root']}"))
    assert shown["commissioningBrand"] == api.chain.brand.address


def test_a_refused_relay_is_not_shown_as_signed_by_the_brand(api: Api) -> None:
    assert api.chain is not None
    key, gtin = _brand_with_product(api)
    draft = _draft(api, key, gtin, ["R1"])
    ok(_submit(api, key, draft))
    with Session(api.engine) as session, session.begin():
        session.execute(
            update(AnchorBatch)
            .where(AnchorBatch.root == bytes.fromhex(draft["root"][2:]))
            .values(relay_refused_at=utcnow(), relay_error="AnchorInvalidSignature()")
        )
    assert ok(api.client.get(f"/batches/{draft['root']}"))["commissioningBrand"] is None
    item = ok(api.client.get(f"/01/{gtin}/21/R1", headers={"Accept": "application/json"}))
    assert item["history"][0]["anchoring"]["signedByBrand"] is None


def test_an_unsigned_draft_expires_with_410_then_is_purged(api: Api) -> None:
    key, gtin = _brand_with_product(api)
    draft = _draft(api, key, gtin, ["E1", "E2"])
    path = f"/commissionings/{draft['id']}"
    _age(api, draft["id"], TTL - timedelta(minutes=1))
    assert ok(api.client.get(path, headers=auth(key)))["status"] == "awaiting_signature"
    _age(api, draft["id"], TTL + timedelta(seconds=1))
    gone = api.client.get(path, headers=auth(key))
    assert gone.status_code == 410
    assert (
        "expired unsigned" in gone.json()["detail"] and "start a new one" in gone.json()["detail"]
    )
    late = _submit(api, key, draft)
    assert late.status_code == 410, late.text
    # Another brand learns nothing, not even that the draft exists: the answer of a missing one.
    assert api.chain is not None
    stranger = api.brand(api.chain.stranger, prefix="0799999", name="Other")
    foreign = api.client.get(path, headers=auth(stranger))
    missing = api.client.get("/commissionings/doesnotexist", headers=auth(stranger))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == f"no commissioning {draft['id']}"
    # Nothing was commissioned: the serials can be drafted again, and signing that one works.
    _age(api, draft["id"], 2 * TTL + timedelta(seconds=1))
    again = _draft(api, key, gtin, ["E1", "E2"])
    assert ok(_submit(api, key, again))["status"] == "submitted"
    # Starting the new draft purged the long-expired one.
    assert api.client.get(path, headers=auth(key)).status_code == 404


def test_a_submitted_draft_never_expires(api: Api) -> None:
    key, gtin = _brand_with_product(api)
    draft = _draft(api, key, gtin, ["K1"])
    ok(_submit(api, key, draft))
    _age(api, draft["id"], 10 * TTL)
    _draft(api, key, gtin, ["K2"])  # purges expired unsigned drafts only
    shown = ok(api.client.get(f"/commissionings/{draft['id']}", headers=auth(key)))
    assert shown["status"] == "submitted" and shown["batchStatus"] == "pending"


@pytest.mark.parametrize(("value", "valid"), [("3600", True), ("59", False), ("soon", False)])
def test_draft_lifetime_setting(monkeypatch: pytest.MonkeyPatch, value: str, valid: bool) -> None:
    monkeypatch.setenv("COMMISSIONING_DRAFT_TTL_SECONDS", value)
    if valid:
        settings = ApiSettings(chaintrace_dev=True)
        assert settings.commissioning_draft_ttl == timedelta(seconds=int(value))
    else:
        with pytest.raises(ValueError, match="commissioning_draft_ttl_seconds"):
            ApiSettings(chaintrace_dev=True)


def test_a_draft_made_before_kind_2_leaves_still_signs_and_stores_its_own_leaves(
    api: Api,
) -> None:
    """A draft stored before kind 2 leaves (no `member` entries, its root over the events'
    leaves alone) is signed and stored as it was: leafCount n, no kind 2 leaf in its batch (the
    backfill makes them later, in a platform root)."""
    assert api.chain is not None
    key, gtin = _brand_with_product(api)
    draft = _draft(api, key, gtin, ["O1", "O2"])
    with Session(api.engine) as session, session.begin():
        row = session.get_one(CommissioningDraft, draft["id"])
        old = {**row.draft, "events": [dict(e) for e in row.draft["events"]]}
        for entry in old["events"]:
            del entry["member"]
        tree = MerkleTree.build([bytes.fromhex(e["leaf"][2:]) for e in old["events"]])
        old["root"], old["leafCount"] = "0x" + tree.root.hex(), 2
        message = {**old["typedData"]["message"], "root": old["root"], "leafCount": 2}
        old["typedData"] = {**old["typedData"], "message": message}
        row.draft = old
    done = ok(_submit(api, key, old))
    assert done["status"] == "submitted"
    with Session(api.engine) as session:
        batch = session.scalars(select(AnchorBatch).where(AnchorBatch.root == tree.root)).one()
        leaves = session.scalars(select(Leaf).where(Leaf.batch_id == batch.id)).all()
        assert batch.leaf_count == 2 and sorted(leaf.kind for leaf in leaves) == [0, 0]
        assert session.scalars(select(Leaf).where(Leaf.kind == 2)).all() == []
