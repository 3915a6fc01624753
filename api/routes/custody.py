"""GET /custody-requests: the shipments waiting for the caller's consent as their items'
custodian (the brand, or the items' last consignee); POST /shipments/{id}/custody-approval
gives it."""

from __future__ import annotations

import time

from fastapi import APIRouter

from api.deps import CurrentPrincipal, SessionDep
from api.schemas.shipments import CustodyRequest, ItemRef
from store.custody import awaiting_approval, custodian

router = APIRouter(tags=["shipments"])


@router.get("/custody-requests", response_model=list[CustodyRequest])
def custody_requests(session: SessionDep, principal: CurrentPrincipal) -> list[CustodyRequest]:
    """Unfunded shipments listing items the caller holds, which it has not approved yet: who
    asks (buyer and carrier) and which of its items."""
    out = []
    for shipment in awaiting_approval(session, principal, int(time.time())):
        mine = [
            ItemRef(gtin=item.product.gtin, serial=item.serial)
            for item in shipment.items
            if custodian(session, item, before=shipment.id).id == principal.id
        ]
        out.append(
            CustodyRequest(
                shipment_id=shipment.shipment_id,
                buyer=shipment.consignee.name,
                carrier=shipment.carrier.name,
                items=mine,
                fund_by=shipment.fund_by,
            )
        )
    return out
