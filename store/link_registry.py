"""The link registry: a brand's resolver links per GTIN, lot and serial, and the links that
apply to one Digital Link (serial -> lot -> GTIN).

Only the brand holding the GTIN's company prefix (the longest registered prefix it starts
with, as store.locations.prefix_holder decides for any GS1 key) owns its links; links a brand
stored before a longer prefix went to another brand are no longer served.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.link_rules import DEFAULT_LINK
from store.errors import StoreError
from store.locations import prefix_holder
from store.models import Brand, ResolverLink

MAX_LINKS_PER_KEY = 50


class LinkLimitError(StoreError):
    """A key already holds the most links it may, or already has its gs1:defaultLink."""


def prefix_brand(session: Session, gtin14: str) -> Brand | None:
    """The brand whose company prefix is the longest to start the GTIN (after its indicator
    digit), or None."""
    holder = prefix_holder(session, gtin14[1:])
    if holder is None:
        return None
    return session.scalar(select(Brand).where(Brand.company_prefix == holder[0]))


def _key(gtin14: str, lot: str | None, serial: str | None) -> list[ColumnElement[bool]]:
    return [
        ResolverLink.gtin == gtin14,
        ResolverLink.lot.is_(None) if lot is None else ResolverLink.lot == lot,
        ResolverLink.serial.is_(None) if serial is None else ResolverLink.serial == serial,
    ]


def add_link(session: Session, link: ResolverLink) -> ResolverLink:
    """Add `link` (flushed, not committed); LinkLimitError when its key is full or already has
    a gs1:defaultLink."""
    where = [ResolverLink.brand_id == link.brand_id, *_key(link.gtin, link.lot, link.serial)]
    count = session.scalar(select(func.count()).select_from(ResolverLink).where(*where)) or 0
    if count >= MAX_LINKS_PER_KEY:
        raise LinkLimitError(f"this key already has {MAX_LINKS_PER_KEY} links, the most it may")
    if link.link_type == DEFAULT_LINK:
        taken = select(ResolverLink.id).where(*where, ResolverLink.link_type == DEFAULT_LINK)
        if session.scalar(taken.limit(1)) is not None:
            raise LinkLimitError("this key already has a gs1:defaultLink: delete it first")
    session.add(link)
    session.flush()
    return link


def brand_links(
    session: Session,
    brand_id: int,
    gtin14: str,
    lot: str | None = None,
    serial: str | None = None,
) -> list[ResolverLink]:
    """The brand's links of a GTIN (every level), or of one lot or serial of it when given."""
    query = select(ResolverLink).where(
        ResolverLink.brand_id == brand_id, ResolverLink.gtin == gtin14
    )
    if lot is not None:
        query = query.where(ResolverLink.lot == lot)
    if serial is not None:
        query = query.where(ResolverLink.serial == serial)
    return list(session.scalars(query.order_by(ResolverLink.id)))


def links_for(
    session: Session, gtin14: str, lot: str | None, serial: str | None
) -> list[ResolverLink]:
    """The links that apply to a Digital Link, most specific level first (serial, lot, GTIN),
    each level in the order they were added; only the prefix brand's."""
    brand = prefix_brand(session, gtin14)
    if brand is None:
        return []
    levels: list[tuple[str | None, str | None]] = [(None, serial)] if serial is not None else []
    levels += [(lot, None)] if lot is not None else []
    levels.append((None, None))
    found: list[ResolverLink] = []
    for level_lot, level_serial in levels:
        query = select(ResolverLink).where(
            ResolverLink.brand_id == brand.id, *_key(gtin14, level_lot, level_serial)
        )
        found.extend(session.scalars(query.order_by(ResolverLink.id)))
    return found
