"""Location master data (issue 15): a GLN or SGLN -> name, coarse position, public or not, owned
by the principal who registered it.

Who may register (or change) a place: if a brand's company prefix (the longest registered one)
starts the GLN, that brand only, and it takes over a row another registered before it; otherwise
the first principal to register any id of that GLN (the GLN or one of its SGLNs) owns the GLN,
and only it may register more of it, change or delete them. A non-public place is seen by its
owner only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.gs1 import SGLN_URN_PREFIX, normalize_gln, parse_sgln_urn
from store.models import Brand, Location
from store.models.types import utcnow


@dataclass(frozen=True)
class PlaceId:
    """A validated location id: the text stored (a GLN or an SGLN URN) and its GLN."""

    text: str
    gln: str


def parse_place_id(text: str) -> PlaceId:
    """A 13-digit GLN or an SGLN EPC URI, check digit and all (core.gs1's Gs1Error if not)."""
    if text.startswith(SGLN_URN_PREFIX):
        return PlaceId(text, parse_sgln_urn(text).gln)
    gln = normalize_gln(text)
    return PlaceId(gln, gln)


class RegistrationRefused(Exception):
    """The caller may not register or change the place: `taken` (another owns the GLN) or
    under another brand's company prefix."""

    def __init__(self, message: str, *, taken: bool) -> None:
        super().__init__(message)
        self.taken = taken


@dataclass(frozen=True)
class Place:
    """What a PUT says of a place (position in hundredths of a degree)."""

    name: str
    lat_centi: int | None
    lon_centi: int | None
    public: bool


def prefix_holder(session: Session, gln: str) -> tuple[str, int] | None:
    """The (prefix, principal id) of the brand whose company prefix is the longest to start the
    GLN, or None."""
    brands = session.execute(select(Brand.company_prefix, Brand.principal_id)).all()
    held = [(p, pid) for p, pid in brands if gln.startswith(p)]
    return max(held, key=lambda row: len(row[0])) if held else None


def put_location(
    session: Session, principal_id: int, place_id: PlaceId, place: Place
) -> tuple[Location, bool]:
    """Register or update the place as `principal_id`: the row and whether it is new."""
    holder = prefix_holder(session, place_id.gln)
    if holder is not None and holder[1] != principal_id:
        raise RegistrationRefused(
            f"GLN {place_id.gln} is under company prefix {holder[0]}, another brand's",
            taken=False,
        )
    if holder is None:
        others = select(Location.id).where(
            Location.gln == place_id.gln, Location.owner_principal_id != principal_id
        )
        if session.scalar(others.limit(1)) is not None:
            raise RegistrationRefused(
                f"GLN {place_id.gln} is registered by another party", taken=True
            )
    row = session.scalar(select(Location).where(Location.location_id == place_id.text))
    created = row is None
    if row is None:
        row = Location(location_id=place_id.text, gln=place_id.gln, created_at=utcnow())
        session.add(row)
    row.owner_principal_id = principal_id  # the prefix's brand takes over an earlier row
    row.name = place.name
    row.lat_centi, row.lon_centi = place.lat_centi, place.lon_centi
    row.public = place.public
    row.updated_at = utcnow()
    session.flush()
    return row, created


def visible_location(
    session: Session, place_id: PlaceId, principal_id: int | None
) -> Location | None:
    """The place if it is public or the caller's, else None (absent and hidden alike)."""
    row = session.scalar(select(Location).where(Location.location_id == place_id.text))
    if row is None or not (row.public or row.owner_principal_id == principal_id):
        return None
    return row


def owned_locations(session: Session, principal_id: int) -> list[Location]:
    """The caller's places, by id."""
    stmt = (
        select(Location)
        .where(Location.owner_principal_id == principal_id)
        .order_by(Location.location_id)
    )
    return list(session.scalars(stmt))


def delete_location(session: Session, place_id: PlaceId, principal_id: int) -> bool:
    """Delete the caller's place; False if it is not the caller's (or absent)."""
    row = session.scalar(
        select(Location).where(
            Location.location_id == place_id.text, Location.owner_principal_id == principal_id
        )
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def known_locations(
    session: Session, principal_id: int, *, after: int | None, limit: int
) -> list[Location]:
    """The places the caller may see (public ones and its own), by row id after `after`."""
    stmt = (
        select(Location)
        .where(or_(Location.public.is_(True), Location.owner_principal_id == principal_id))
        .where(Location.id > (after or 0))
        .order_by(Location.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
