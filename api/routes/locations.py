"""Location master data (issue 15): PUT, GET and DELETE /locations/{id}, GET /locations.

An id is a 13-digit GLN or an SGLN EPC URI (urn:epc:id:sgln:...), check digit checked. The
owner is the principal who registered it (store/locations.py: a brand holding the GLN's company
prefix, else the first to register the GLN). A public place is readable without a key (rate
limited per client like the resolver); a non-public one only by its owner: to anyone else it is
404, as an unknown id.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from api.deps import CurrentPrincipal, OptionalPrincipal, SessionDep
from api.errors import Conflict, FieldError, Forbidden, NotFound
from api.openapi_doc import errors
from api.rate_limit import Bucket, per_client
from api.schemas.locations import LocationIn, LocationList, LocationOut
from core.errors import Gs1Error
from store.locations import (
    Place,
    PlaceId,
    RegistrationRefused,
    delete_location,
    owned_locations,
    parse_place_id,
    put_location,
    visible_location,
)
from store.models import Location

router = APIRouter(tags=["locations"])

# The shape; the check digit and an SGLN's 12 digits the routes check (PUT: 422 naming the
# path; GET and DELETE: 404, as an id that names no place).
LOCATION_PATTERN = r"^([0-9]{13}|urn:epc:id:sgln:[0-9]{6,12}\.[0-9]{0,6}\.[!-~]{1,60})$"
LocationId = Annotated[
    str,
    Path(
        max_length=80,
        pattern=LOCATION_PATTERN,
        json_schema_extra={"format": "gs1-location"},
        description="A GLN (13 digits) or an SGLN EPC URI (urn:epc:id:sgln:...), check digit "
        "and all",
    ),
]
# A key is optional on a public read: an empty requirement says so (OpenAPI 3).
_OPTIONAL_KEY: dict[str, Any] = {"security": [{}]}  # FastAPI appends it to the key schemes


def _place_id(text: str) -> PlaceId:
    """The id to register: 422 naming the path if it is no GLN or SGLN."""
    try:
        return parse_place_id(text)
    except Gs1Error as exc:
        raise FieldError(["path", "location_id"], str(exc)) from None


def _known_id(text: str) -> PlaceId | None:
    """The id to read or delete; None if it is no GLN or SGLN (it names no place: 404)."""
    try:
        return parse_place_id(text)
    except Gs1Error:
        return None


def _centi(degrees: float | None) -> int | None:
    """Hundredths of a degree, half to even: the only precision the server keeps."""
    if degrees is None:
        return None
    return int(Decimal(repr(degrees)).scaleb(2).quantize(Decimal(1), ROUND_HALF_EVEN))


def _out(row: Location, principal_id: int | None) -> LocationOut:
    return LocationOut(
        id=row.location_id,
        gln=row.gln,
        name=row.name,
        latitude=None if row.lat_centi is None else row.lat_centi / 100,
        longitude=None if row.lon_centi is None else row.lon_centi / 100,
        public=row.public,
        yours=row.owner_principal_id == principal_id,
        updated_at=row.updated_at,
    )


@router.put(
    "/locations/{location_id}",
    response_model=LocationOut,
    responses={**errors(403, 409), 201: {"model": LocationOut, "description": "Registered"}},
)
def put(
    location_id: LocationId,
    body: LocationIn,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> LocationOut:
    """Register the place (201) or change it (200). 403: the GLN is under another brand's
    company prefix; 409: another party registered the GLN first."""
    place_id = _place_id(location_id)
    place = Place(body.name, _centi(body.latitude), _centi(body.longitude), body.public)
    try:
        row, created = put_location(session, principal.id, place_id, place)
    except RegistrationRefused as exc:
        raise (Conflict if exc.taken else Forbidden)(str(exc)) from None
    out = _out(row, principal.id)
    session.commit()
    if created:
        response.status_code = status.HTTP_201_CREATED
    return out


@router.get(
    "/locations/{location_id}",
    response_model=LocationOut,
    responses=errors(404),
    dependencies=[Depends(per_client(Bucket.RESOLVER))],
    openapi_extra=_OPTIONAL_KEY,
)
def get(location_id: LocationId, session: SessionDep, principal: OptionalPrincipal) -> LocationOut:
    """A public place, to anyone (no key needed); a non-public one, to its owner only."""
    caller = None if principal is None else principal.id
    place_id = _known_id(location_id)
    row = None if place_id is None else visible_location(session, place_id, caller)
    if row is None:
        raise NotFound("no such location among those you may see")
    return _out(row, caller)


@router.get("/locations", response_model=LocationList)
def mine(session: SessionDep, principal: CurrentPrincipal) -> LocationList:
    """The places the caller registered."""
    return LocationList(
        locations=[_out(r, principal.id) for r in owned_locations(session, principal.id)]
    )


@router.delete("/locations/{location_id}", status_code=204, responses=errors(404))
def delete(location_id: LocationId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Delete the caller's place; 404 if it is not the caller's (absent, hidden or another's)."""
    place_id = _known_id(location_id)
    if place_id is None or not delete_location(session, place_id, principal.id):
        raise NotFound("no such location of yours")
    session.commit()
    return Response(status_code=204)
