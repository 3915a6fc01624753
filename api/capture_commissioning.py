"""A commissioning captured through EPCIS becomes a commissioning draft for its brand to sign.

Only the brand holding the EPCs' GS1 company prefix (the longest registered prefix) commissions
them: anyone else gets one 422 naming the EPC, whether or not the item or product exists. The
draft is the one POST /products/{gtin}/items builds (api.commissioning.build_draft): one event
per serial written by the platform with the captured eventTime, readPoint, bizLocation and the
ILMD's lot (cbvmda:lotNumber) and expiry (cbvmda:itemExpirationDate); the captured event's other
fields are not kept. Nothing is an event until the brand signs the draft (never a platform batch).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.brand_state import ledger, refuse_if_barred
from api.commissioning import MAX_FUTURE, build_draft
from api.deps import wallet_of
from api.errors import Conflict, FieldError
from api.settings import ApiSettings
from api.signing import commissioning_domain
from api.state import ChainAccess
from core.epcis.errors import EpcisError
from core.epcis.events import ITEM_EXPIRATION_DATE, LOT_NUMBER, parse_time
from core.errors import Gs1Error
from core.gs1 import parse_sgtin_urn, validate_serial
from store.commissioning import purge_expired_drafts, save_draft
from store.epcis_match import owner_prefix
from store.models import Brand, Item, Principal, Product
from store.models.types import utcnow

Loc = Sequence[str | int]
NOT_THE_BRAND = (
    "a commissioning (action ADD) is accepted only from the brand holding the EPC's GS1 company "
    "prefix, which signs it (as with POST /products/{gtin}/items)"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _ilmd(event: dict[str, Any], where: Loc) -> tuple[str | None, date | None]:
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, dict):
        return None, None
    lot, expiry = ilmd.get(LOT_NUMBER), ilmd.get(ITEM_EXPIRATION_DATE)
    if lot is not None:
        try:
            lot = validate_serial(lot, "lot")
        except Gs1Error as exc:
            raise FieldError([*where, "ilmd", LOT_NUMBER], f"a GS1 AI (10) lot: {exc}") from None
    day = None
    if expiry is not None:
        try:
            if not isinstance(expiry, str) or not _DATE.fullmatch(expiry):
                raise ValueError(expiry)
            day = date.fromisoformat(expiry)
        except ValueError:
            raise FieldError(
                [*where, "ilmd", ITEM_EXPIRATION_DATE], "must be a date, YYYY-MM-DD"
            ) from None
    return lot, day


def _serials(
    session: Session, principal: Principal, epcs: Any, where: Loc
) -> tuple[Brand, str, list[str]]:
    """(brand, GTIN, serials) of the EPCs; the same refusal for every EPC not the caller's."""
    brand = session.scalar(select(Brand).where(Brand.principal_id == principal.id))
    if not isinstance(epcs, list) or not epcs:
        why = NOT_THE_BRAND if brand is None else "a commissioning lists the SGTINs it commissions"
        raise FieldError([*where, "epcList"], why)
    prefixes = list(session.scalars(select(Brand.company_prefix)))
    gtin, serials = None, []
    for index, epc in enumerate(epcs):
        loc = [*where, "epcList", index]
        if brand is None or owner_prefix(epc, prefixes) != brand.company_prefix:
            raise FieldError(loc, NOT_THE_BRAND)
        try:
            sgtin = parse_sgtin_urn(epc)
        except Gs1Error as exc:
            raise FieldError(loc, f"only SGTINs are commissioned: {exc}") from None
        if sgtin.prefix_len != len(brand.company_prefix):
            raise FieldError(loc, f"the SGTIN's company prefix must be {brand.company_prefix}")
        if gtin not in (None, sgtin.gtin):
            raise FieldError(loc, "a commissioning event commissions items of one GTIN")
        if sgtin.serial in serials:
            raise FieldError(loc, f"serial {sgtin.serial!r} appears twice")
        gtin = sgtin.gtin
        serials.append(sgtin.serial)
    assert brand is not None and gtin is not None
    return brand, gtin, serials


def draft_from_event(
    session: Session,
    principal: Principal,
    chain: ChainAccess,
    settings: ApiSettings,
    event: dict[str, Any],
    where: Loc,
) -> dict[str, Any]:
    """The commissioning draft a captured commissioning `event` makes (saved, not committed)."""
    if event.get("type") != "ObjectEvent":
        raise FieldError([*where, "type"], "a commissioning is an ObjectEvent")
    brand, gtin, serials = _serials(session, principal, event.get("epcList"), where)
    product = session.scalar(select(Product).where(Product.gtin == gtin))
    if product is None or product.brand_id != brand.id:
        raise FieldError(
            [*where, "epcList"], f"no product {gtin} of yours: add it (POST /products)"
        )
    existing = session.scalars(
        select(Item.serial).where(Item.product_id == product.id, Item.serial.in_(serials))
    ).all()
    if existing:
        raise Conflict(f"already commissioned under GTIN {gtin}: {sorted(existing)}")
    try:
        event_time = parse_time(event["eventTime"])
    except (EpcisError, KeyError) as exc:
        raise FieldError([*where, "eventTime"], str(exc)) from None
    if event_time > utcnow() + MAX_FUTURE:
        raise FieldError([*where, "eventTime"], "must not be in the future")
    lot, expiry = _ilmd(event, where)
    wallet = wallet_of(principal)
    refuse_if_barred(ledger(session, chain), wallet)
    domain, _version = commissioning_domain(chain)
    read_point, biz_location = event.get("readPoint"), event.get("bizLocation")
    draft = build_draft(
        product,
        serials,
        wallet,
        domain,
        event_time=event_time,
        read_point=read_point.get("id") if isinstance(read_point, dict) else None,
        biz_location=biz_location.get("id") if isinstance(biz_location, dict) else None,
        principal_id=principal.id,
        lot=lot,
        expiry=expiry,
    )
    purge_expired_drafts(session, settings.commissioning_draft_ttl)
    save_draft(session, draft)
    return draft
