"""Who may record a consumer-facing fact (DESIGN.md "Write rights"; docs/recalls.md).

An event stating one (core.epcis.consumer_facts: recalled, decommissioned, sold) is recorded only
if, for every GTIN-based identifier it names under a registered brand's company prefix, the
caller is that brand, or (for one item) the item's custodian. Anyone else gets one 422 naming the
identifier, worded the same whether or not the item, lot or product exists: the refusal depends
on the public prefixes and on what the caller holds, never on what else the store knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.epcis.consumer_facts import Subject, consumer_fact, named_subjects
from store.custody import custodian
from store.models import Brand, Principal
from store.queries import find_item
from store.recalls import prefix_of

NOT_YOURS = (
    "a consumer-facing fact (disposition recalled, inactive or retail_sold; bizStep "
    "decommissioning or retail_selling) is recorded only by the brand holding the GTIN's "
    "company prefix, or for one item by its custodian"
)
UNCLEAR = (
    "an event stating a consumer-facing fact names items as an SGTIN, an LGTIN class, "
    "urn:epc:idpat:sgtin:<prefix>.<item>.* or a GS1 Digital Link of one GTIN"
)


def _holds(session: Session, principal: Principal, subject: Subject) -> bool:
    if subject.serial is None:
        return False  # a lot or a product has no custodian: its brand's word only
    item = find_item(session, subject.gtin, subject.serial)
    return item is not None and custodian(session, item).id == principal.id


def refused_fact(
    session: Session, principal: Principal, event: Mapping[str, Any]
) -> tuple[list[str | int], str] | None:
    """(loc within the event, reason) of the first identifier the caller may not state the
    event's consumer-facing fact about; None when it states none or the caller may."""
    if consumer_fact(event) is None:
        return None
    named = named_subjects(event)
    if not named:
        return None
    prefixes = list(session.scalars(select(Brand.company_prefix)))
    own = session.scalar(select(Brand.company_prefix).where(Brand.principal_id == principal.id))
    for found in named:
        loc: list[str | int] = [int(p) if p.isdigit() else p for p in found.pointer.split("/")[1:]]
        if found.subject is None:
            return loc, UNCLEAR
        owner = prefix_of(found.subject.gtin, prefixes)
        if owner is None or owner == own:
            continue  # no registered brand's item (no consumer verdict), or the caller's own
        if not _holds(session, principal, found.subject):
            return loc, NOT_YOURS
    return None
