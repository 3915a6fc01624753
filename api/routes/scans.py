"""A brand's scan counts: how often its products' items were resolved, per UTC day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.catalog import own_product
from api.deps import BrandPrincipal, SessionDep
from api.errors import FieldError
from api.openapi_doc import errors
from api.schemas.common import Gtin, Serial
from api.schemas.scans import DayScans, ProductScans
from store.models.types import utcnow
from store.scan_counts import product_scans

router = APIRouter(prefix="/products", tags=["products"])

# The longest span one request reads (a year and a day: a leap year's 366).
MAX_DAYS = 366
DEFAULT_DAYS = 30


@router.get("/{gtin}/scans", response_model=ProductScans, responses=errors(404, 422))
def scans(
    gtin: Gtin,
    session: SessionDep,
    principal: BrandPrincipal,
    from_: Annotated[
        date | None, Query(alias="from", description="First UTC day (default: `to` - 29 days)")
    ] = None,
    to: Annotated[date | None, Query(description="Last UTC day (default: today)")] = None,
    serial: Annotated[Serial | None, Query(description="Only this item's scans")] = None,
) -> ProductScans:
    """Scans of the calling brand's product per UTC day (at most 366 days per request)."""
    product = own_product(session, principal, gtin)
    last = to or utcnow().date()
    first = from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise FieldError(["query", "from"], "must not be after `to`")
    if (last - first).days >= MAX_DAYS:
        raise FieldError(["query", "from"], f"at most {MAX_DAYS} days per request")
    days = product_scans(session, product.id, first, last, serial)
    return ProductScans.model_validate(
        {
            "gtin": product.gtin,
            "serial": serial,
            "from": first,
            "to": last,
            "total": sum(d.scans for d in days),
            "days": [DayScans(date=d.day, scans=d.scans, items=d.items) for d in days],
        }
    )
