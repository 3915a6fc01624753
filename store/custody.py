"""Custody: who holds an item, and whether a shipment listing it has its holders' consent.

DESIGN: every item listed in a shipment is held by a party who signed or approved it. The
custodian of an item is the consignee of its last delivered shipment (received, attested or
settled), else its brand (the principal of the brand whose product it is). A shipment has
custody consent when each of its items' custodians is its buyer (consignee) or its carrier, or
has approved it. Without consent a shipment is not funded through the API and holds no items.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.models import (
    Brand,
    Item,
    Principal,
    Product,
    Shipment,
    ShipmentStatus,
    shipment_items,
)

DELIVERED = (ShipmentStatus.RECEIVED, ShipmentStatus.ATTESTED, ShipmentStatus.SETTLED)


def custodian(session: Session, item: Item, before: int | None = None) -> Principal:
    """The principal holding `item` (before shipment `before`, if given): the consignee of its
    last delivered shipment that had custody consent, else its brand (a delivery nobody holding
    the items agreed to moves none)."""
    stmt = (
        select(Shipment)
        .join(shipment_items, shipment_items.c.shipment_id == Shipment.id)
        .where(shipment_items.c.item_id == item.id, Shipment.status.in_(DELIVERED))
        .order_by(Shipment.id.desc())
    )
    if before is not None:
        stmt = stmt.where(Shipment.id < before)
    for last in session.scalars(stmt):
        if not missing_consent(session, last):
            return last.consignee
    return item.product.brand.principal


def missing_consent(session: Session, shipment: Shipment) -> set[int]:
    """Ids of the custodians of the shipment's items (as of before it) who neither are a party
    nor approved; none for a shipment created before consent existed (it goes on as it was)."""
    if not shipment.custody_required or shipment.id is None:
        return set()
    consenting = {shipment.consignee_principal_id, shipment.carrier_principal_id}
    consenting |= {p.id for p in shipment.custody_approvers}
    holders = {custodian(session, item, before=shipment.id).id for item in shipment.items}
    return holders - consenting


def holds_items(session: Session, shipment: Shipment, now: int) -> bool:
    """Whether an open shipment keeps its items from other shipments: only with its items'
    custodians' consent (funded straight on chain without it, it holds nothing), and unfunded
    only before its fundBy."""
    if (
        shipment.status is ShipmentStatus.CREATED
        and shipment.fund_by is not None
        and shipment.fund_by < now
    ):
        return False
    return not missing_consent(session, shipment)


def approve(session: Session, shipment: Shipment, principal: Principal) -> list[Item]:
    """Record `principal`'s consent; the shipment's items it holds (empty: nothing approved)."""
    held = [
        item
        for item in shipment.items
        if custodian(session, item, before=shipment.id).id == principal.id
    ]
    if held and principal not in shipment.custody_approvers:
        shipment.custody_approvers.append(principal)
        session.flush()
    return held


def items_held_elsewhere(
    session: Session,
    items: Iterable[Item],
    open_statuses: Iterable[ShipmentStatus],
    now: int,
    mine: Shipment | None = None,
) -> Item | None:
    """The first of `items` another open shipment holds (holds_items), or None.

    For `mine` (a stored shipment about to be funded) an unfunded one holds only if it was
    created first: of two consented, unfunded shipments of an item the earlier may fund.
    """
    statuses = list(open_statuses)
    for item in items:
        stmt = (
            select(Shipment)
            .join(shipment_items, shipment_items.c.shipment_id == Shipment.id)
            .where(shipment_items.c.item_id == item.id, Shipment.status.in_(statuses))
        )
        for other in session.scalars(stmt):
            if mine is not None and (
                other.id == mine.id
                or (other.status is ShipmentStatus.CREATED and other.id > mine.id)
            ):
                continue
            if holds_items(session, other, now):
                return item
    return None


def awaiting_approval(session: Session, principal: Principal, now: int) -> list[Shipment]:
    """Unfunded shipments (before their fundBy) waiting for `principal`'s custody consent:
    those listing items it holds, as brand or as their last consignee."""
    brand_items = (
        select(Item.id)
        .join(Product, Product.id == Item.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .where(Brand.principal_id == principal.id)
    )
    received_items = (
        select(shipment_items.c.item_id)
        .join(Shipment, Shipment.id == shipment_items.c.shipment_id)
        .where(Shipment.consignee_principal_id == principal.id, Shipment.status.in_(DELIVERED))
    )
    candidates = session.scalars(
        select(Shipment)
        .join(shipment_items, shipment_items.c.shipment_id == Shipment.id)
        .where(
            Shipment.status == ShipmentStatus.CREATED,
            Shipment.custody_required.is_(True),
            or_(Shipment.fund_by.is_(None), Shipment.fund_by >= now),
            or_(
                shipment_items.c.item_id.in_(brand_items),
                shipment_items.c.item_id.in_(received_items),
            ),
        )
        .distinct()
        .order_by(Shipment.id)
    )
    return [s for s in candidates if principal.id in missing_consent(session, s)]
