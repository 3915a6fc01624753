"""The link registry's store: links per level (serial -> lot -> GTIN) and only the prefix
brand's, the longest registered prefix deciding (as for commissioning)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.gs1 import check_digit
from store.link_registry import LinkLimitError, add_link, links_for, prefix_brand
from store.models import Brand, ResolverLink, Role
from tests.utils.store_factories import make_principal


def _brand(session: Session, prefix: str) -> Brand:
    brand = Brand(
        principal_id=make_principal(session, Role.BRAND).id,
        company_prefix=prefix,
        name=f"Brand {prefix}",
    )
    session.add(brand)
    session.flush()
    return brand


def _gtin(prefix: str, ref: str) -> str:
    body = "0" + prefix + ref
    return body + check_digit(body)


def _link(
    brand: Brand,
    gtin: str,
    href: str,
    lot: str | None = None,
    serial: str | None = None,
    link_type: str = "gs1:pip",
) -> ResolverLink:
    return ResolverLink(
        brand_id=brand.id,
        gtin=gtin,
        lot=lot,
        serial=serial,
        link_type=link_type,
        href=href,
        title=href,
        hreflang=["en"],
        media_type=None,
    )


def test_links_for_lists_serial_then_lot_then_gtin_level(db_session: Session) -> None:
    brand = _brand(db_session, "0614141")
    gtin = _gtin("0614141", "12345")
    for link in (
        _link(brand, gtin, "https://a.example/gtin"),
        _link(brand, gtin, "https://a.example/lot", lot="L1"),
        _link(brand, gtin, "https://a.example/other-lot", lot="L2"),
        _link(brand, gtin, "https://a.example/serial", serial="S1"),
        _link(brand, gtin, "https://a.example/other-serial", serial="S2"),
    ):
        add_link(db_session, link)
    hrefs = [row.href for row in links_for(db_session, gtin, "L1", "S1")]
    assert hrefs == ["https://a.example/serial", "https://a.example/lot", "https://a.example/gtin"]
    assert [r.href for r in links_for(db_session, gtin, "L1", None)] == [
        "https://a.example/lot",
        "https://a.example/gtin",
    ]
    assert [r.href for r in links_for(db_session, gtin, None, None)] == ["https://a.example/gtin"]


def test_the_longest_registered_prefix_owns_the_gtins_links(db_session: Session) -> None:
    # Nested prefixes cannot be registered through the API; a store may still hold them (the
    # rule is the one commissioning applies: the longest registered prefix).
    short, long_ = _brand(db_session, "0614141"), _brand(db_session, "06141419")
    gtin = _gtin("06141419", "9999")
    add_link(db_session, _link(short, gtin, "https://short.example/stale"))
    add_link(db_session, _link(long_, gtin, "https://long.example/pip"))
    holder = prefix_brand(db_session, gtin)
    assert holder is not None and holder.id == long_.id
    assert [r.href for r in links_for(db_session, gtin, None, None)] == ["https://long.example/pip"]
    assert links_for(db_session, _gtin("0999999", "12345"), None, None) == []


def test_one_default_per_key(db_session: Session) -> None:
    brand = _brand(db_session, "0614141")
    gtin = _gtin("0614141", "12345")
    add_link(db_session, _link(brand, gtin, "https://a.example/d", link_type="gs1:defaultLink"))
    add_link(
        db_session,
        _link(brand, gtin, "https://a.example/d", serial="S1", link_type="gs1:defaultLink"),
    )
    with pytest.raises(LinkLimitError):
        add_link(db_session, _link(brand, gtin, "https://a.example/e", link_type="gs1:defaultLink"))
