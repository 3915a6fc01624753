"""Escrow v2 mutual release: buyer and payee settle on a split together, in any state before
settlement (also when no attestation can come, e.g. the oracle paused). Stateless: the API gives
the typed data each signs and, with both signatures, the unsigned mutualRelease anyone sends."""

from __future__ import annotations

from fastapi import APIRouter

from api.chain_access import shipment_escrow_v2
from api.deps import ChainDep, CurrentPrincipal, SessionDep
from api.errors import Conflict, FieldError, Forbidden
from api.openapi_doc import errors
from api.schemas.common import EthTx, TypedData, UnsignedTx
from api.schemas.disputes import MutualReleaseIn, MutualReleaseTxIn
from api.signing import recover_signer, shipment_escrow_domain
from chain.clients import ShipmentStateV2
from chain.errors import ContractRevert
from core.eip712 import MutualRelease, typed_data
from store.models import Shipment
from store.shipment_access import is_party, visible_shipment

router = APIRouter(prefix="/shipments/{shipment_id}/mutual-release", tags=["disputes"])


def _release(shipment: Shipment, payout_wei: int) -> MutualRelease:
    return MutualRelease(shipment_id=bytes.fromhex(shipment.shipment_id[2:]), payout=payout_wei)


def _v2_party(session: SessionDep, principal: CurrentPrincipal, shipment_id: str) -> Shipment:
    shipment = visible_shipment(session, principal, shipment_id)
    if not is_party(shipment, principal):
        raise Forbidden("only the shipment's parties release it")
    if shipment.escrow_version != 2:
        raise Conflict("mutual release is a ShipmentEscrow v2 call; this shipment uses v1")
    return shipment


@router.post("/typed-data", response_model=TypedData, responses=errors(403, 404, 409))
def release_typed_data(
    shipment_id: str,
    body: MutualReleaseIn,
    session: SessionDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
) -> TypedData:
    """The MutualRelease(shipmentId, payoutWei) typed data buyer and payee each sign."""
    shipment = _v2_party(session, principal, shipment_id)
    domain = shipment_escrow_domain(chain, 2)
    return TypedData.model_validate(typed_data(_release(shipment, body.payout_wei), domain))


@router.post("/tx", response_model=UnsignedTx, responses=errors(403, 404, 409))
def release_tx(
    shipment_id: str,
    body: MutualReleaseTxIn,
    session: SessionDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
) -> UnsignedTx:
    """The unsigned mutualRelease for the caller's wallet, once both signatures check out."""
    shipment = _v2_party(session, principal, shipment_id)
    escrow = shipment_escrow_v2(chain)
    view = escrow.shipment(shipment.shipment_id)
    if view.state in (ShipmentStateV2.NONE, ShipmentStateV2.SETTLED, ShipmentStateV2.REFUNDED):
        raise Conflict(f"the escrow holds this shipment as {view.state.name.lower()}")
    if body.payout_wei > view.amount:
        raise FieldError(["body", "payoutWei"], f"exceeds the deposit of {view.amount} wei")
    release, domain = _release(shipment, body.payout_wei), shipment_escrow_domain(chain, 2)
    for field, expected in (("buyerSignature", view.buyer), ("payeeSignature", view.payee)):
        signature = getattr(
            body, "buyer_signature" if field == "buyerSignature" else "payee_signature"
        )
        signer = recover_signer(release, domain, signature, ["body", field])
        if signer != expected:
            raise FieldError(["body", field], f"signed by {signer}, not by {expected}")
    sender = principal.wallet_address or view.buyer
    try:
        tx = escrow.build_mutual_release(
            sender,
            shipment.shipment_id,
            body.payout_wei,
            bytes.fromhex(body.buyer_signature[2:]),
            bytes.fromhex(body.payee_signature[2:]),
        )
        escrow.simulate(tx)
    except ContractRevert as exc:
        raise Conflict(f"the contract refused: {exc}") from None
    return UnsignedTx(
        description=f"ShipmentEscrow v2.mutualRelease for shipment {shipment.shipment_id}: "
        f"{body.payout_wei} wei to the payee, {view.amount - body.payout_wei} wei to the buyer",
        tx=EthTx.of(tx),
    )
