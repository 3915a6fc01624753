"""Commissioning drafts: the brand's signature turns one into a batch awaiting anchoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from api.brand_state import ledger, refuse_if_barred
from api.catalog import item_public
from api.commissioning import draft_message
from api.deps import BrandPrincipal, ChainDep, SessionDep, SettingsDep, wallet_of
from api.errors import Conflict, FieldError, NotFound
from api.finality import finality_of
from api.openapi_doc import errors
from api.schemas.common import SignatureIn, TypedData
from api.schemas.products import CommissioningPublic, DraftEvent, ItemPublic
from api.settings import ApiSettings
from api.signing import commissioning_domain, recover_signer
from store.commissioning import (
    AWAITING_SIGNATURE,
    check_not_expired,
    load_draft,
    mark_submitted,
    store_commissioning,
)
from store.models import AnchorBatch, CommissioningDraft, Item, Principal
from store.models.types import utcnow

router = APIRouter(prefix="/commissionings", tags=["products"])
# Drafts listed at most (unsigned drafts expire after COMMISSIONING_DRAFT_TTL_SECONDS anyway).
_LIST_LIMIT = 200


def commissioning_public(
    draft: dict[str, Any],
    *,
    brand_registered_on_chain: bool | None = None,
    batch: AnchorBatch | None = None,
    items: list[ItemPublic] | None = None,
) -> CommissioningPublic:
    """The brand's view of a draft (salts stay private until the batch is public)."""
    return CommissioningPublic(
        id=draft["id"],
        gtin=draft["gtin"],
        status=draft["status"],
        root=draft["root"],
        leaf_count=draft["leafCount"],
        brand=draft["brand"],
        typed_data=TypedData.model_validate(draft["typedData"]),
        events=[
            DraftEvent(serial=e["serial"], epc=e["epc"], event_hash=e["eventHashNi"])
            for e in draft["events"]
        ],
        # Drafts made before lots were recorded carry neither key.
        lot=draft.get("lot"),
        expiry=draft.get("expiry"),
        brand_registered_on_chain=brand_registered_on_chain,
        batch_status=finality_of(batch) if batch is not None else None,
        batch_error=batch.relay_error if batch is not None else None,
        items=items or [],
    )


def _own_draft(
    session: SessionDep,
    principal: Principal,
    draft_id: str,
    settings: ApiSettings,
    *,
    for_update: bool = False,
) -> CommissioningDraft:
    row = load_draft(session, draft_id, for_update=for_update)
    # Another brand's draft answers exactly as a missing one: no existence oracle.
    if row is None or row.principal_id != principal.id:
        raise NotFound(f"no commissioning {draft_id}")
    check_not_expired(row, settings.commissioning_draft_ttl)
    return row


def _batch(session: SessionDep, root: str) -> AnchorBatch | None:
    return session.scalar(select(AnchorBatch).where(AnchorBatch.root == bytes.fromhex(root[2:])))


@router.get("", response_model=list[CommissioningPublic])
def list_awaiting(
    session: SessionDep, settings: SettingsDep, principal: BrandPrincipal
) -> list[CommissioningPublic]:
    """The calling brand's drafts awaiting its signature, newest first (an EPCIS commissioning
    captured by the brand lands here); expired ones are left out."""
    cutoff = utcnow() - settings.commissioning_draft_ttl
    rows = session.scalars(
        select(CommissioningDraft)
        .where(
            CommissioningDraft.principal_id == principal.id,
            CommissioningDraft.status == AWAITING_SIGNATURE,
            CommissioningDraft.created_at > cutoff,
        )
        .order_by(CommissioningDraft.created_at.desc())
        .limit(_LIST_LIMIT)
    )
    return [commissioning_public(row.draft) for row in rows]


@router.get("/{draft_id}", response_model=CommissioningPublic, responses=errors(404))
def get(
    draft_id: str, session: SessionDep, settings: SettingsDep, principal: BrandPrincipal
) -> CommissioningPublic:
    """One of the calling brand's commissionings, with its batch status once signed.

    An unsigned draft older than COMMISSIONING_DRAFT_TTL_SECONDS answers 410 Gone.
    """
    draft = _own_draft(session, principal, draft_id, settings).draft
    return commissioning_public(draft, batch=_batch(session, draft["root"]))


@router.post(
    "/{draft_id}/signature", response_model=CommissioningPublic, responses=errors(404, 409, 410)
)
def submit_signature(
    draft_id: str,
    body: SignatureIn,
    session: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
    principal: BrandPrincipal,
) -> CommissioningPublic:
    """Accept the brand's Commissioning signature: items, events and a pending batch are stored.

    An unsigned draft older than COMMISSIONING_DRAFT_TTL_SECONDS answers 410 Gone.
    """
    row = _own_draft(session, principal, draft_id, settings, for_update=True)
    draft = row.draft
    if draft["status"] != AWAITING_SIGNATURE:
        raise Conflict(f"commissioning {draft_id} is already {draft['status']}")
    domain, anchor_version = commissioning_domain(chain)
    if domain.to_json() != draft["typedData"]["domain"]:
        raise Conflict("the contracts changed since this draft (redeployed, upgraded): start anew")
    wallet = wallet_of(principal)
    if wallet != draft["brand"]:
        raise Conflict("your wallet changed since this draft: start a new one")
    refuse_if_barred(ledger(session, chain), wallet)
    signer = recover_signer(draft_message(draft), domain, body.signature, ["body", "signature"])
    if signer != wallet:
        raise FieldError(
            ["body", "signature"], f"signed by {signer}, not by the brand's wallet {wallet}"
        )
    serials = [e["serial"] for e in draft["events"]]
    taken = session.scalars(
        select(Item.serial).where(Item.product_id == draft["productId"], Item.serial.in_(serials))
    ).all()
    if taken:
        raise Conflict(f"commissioned meanwhile by another draft: {sorted(taken)}")
    batch, items = store_commissioning(
        session,
        draft,
        product_id=draft["productId"],
        brand_address=wallet,
        signature=body.signature,
        recorded_by=principal.id,
        anchor_version=anchor_version,
    )
    draft = mark_submitted(session, row)
    session.commit()
    return commissioning_public(
        draft,
        batch=batch,
        items=[item_public(item, settings.base_url) for item in items],
    )
