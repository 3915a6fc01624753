"""GET /shipments/{id}/report: an escrow v2 shipment's report, as the oracle would attest now.

The display side of core.shipment_report, the one function the settlement worker attests with:
a party sees the window, whether and how the goods count as delivered, when the escrow accepts
the attestation, the minutes and shocks per device and the expected split, before it happens.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.chain_access import shipment_escrow_v2
from api.deps import ChainDep, CurrentPrincipal, SessionDep
from api.errors import Conflict
from api.openapi_doc import errors
from api.schemas.shipment_report import DeviceReportPublic, ShipmentReportPublic
from api.signing import trace_anchor_domain
from chain.clients import ShipmentStateV2
from chain.settlement.attestation import DeliveryError
from chain.settlement.attestation_v2 import shipment_facts, verified_terms_v2
from chain.transactions import chain_errors
from core.hexstr import hex0x
from core.shipment_report import penalty_bps, split_deposit
from store.shipment_access import visible_shipment

router = APIRouter(prefix="/shipments", tags=["shipments"])


@router.get(
    "/{shipment_id}/report", response_model=ShipmentReportPublic, responses=errors(404, 409)
)
def report(
    shipment_id: str, session: SessionDep, chain: ChainDep, principal: CurrentPrincipal
) -> ShipmentReportPublic:
    """The shipment report (escrow v2 shipments, once funded) as of the chain's clock."""
    shipment = visible_shipment(session, principal, shipment_id)
    if shipment.escrow_version != 2:
        raise Conflict("reports are computed for escrow v2 shipments")
    escrow = shipment_escrow_v2(chain)
    view = escrow.shipment(shipment.shipment_id)
    if view.state is ShipmentStateV2.NONE:
        raise Conflict("the escrow holds no deposit for this shipment yet")
    with chain_errors():
        now = int(chain.web3().eth.get_block("latest")["timestamp"])
    if view.attested_at:
        now = view.attested_at  # what the oracle attested, not what has arrived since
    try:
        terms = verified_terms_v2(shipment, view.terms_hash)
        facts = shipment_facts(
            session, shipment, terms, trace_anchor_domain(chain), now=now, funded_at=view.funded_at
        )
    except DeliveryError as exc:
        raise Conflict(f"no report: {exc}") from None
    r = facts.report
    bps = split = None
    if r.delivered_at is not None:
        bps = penalty_bps(terms, r.excursion_minutes, r.shock_count, r.delivered_at)
        split = split_deposit(view.amount, bps)
    return ShipmentReportPublic(
        as_of=now,
        window_start=r.window_start,
        window_end=r.window_end,
        delivered_at=r.delivered_at,
        delivery_basis=None if r.delivery_basis is None else r.delivery_basis.name.lower(),
        rejected=r.rejected,
        arrival_at=None if r.arrival is None else r.arrival.at_ms // 1000,
        attestable_at=r.attestable_at,
        may_attest=r.may_attest,
        excursion_minutes=r.excursion_minutes,
        shock_count=r.shock_count,
        penalty_bps=bps,
        payout_wei=None if split is None else str(split[0]),
        refund_wei=None if split is None else str(split[1]),
        evidence_root=hex0x(r.evidence_root),
        evidence_readings=len(r.evidence),
        readings_ignored=r.readings_ignored,
        devices=[
            DeviceReportPublic(
                device=d.device,
                readings_in_window=d.readings_in_window,
                excursion_minutes=d.excursion_minutes,
                counted_ms_by_kind=d.counted_ms_by_kind,
                missing_seqs=d.missing_seqs,
                shocks=d.shocks,
            )
            for d in r.devices
        ],
    )
