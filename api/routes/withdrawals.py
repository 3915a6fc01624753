"""GET /withdraw-tx: the caller's wallet takes out what an escrow credited it (payouts, refunds:
the escrows pay by crediting, and each account withdraws its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.chain_access import shipment_escrow, shipment_escrow_v2
from api.deps import ChainDep, CurrentPrincipal, wallet_of
from api.errors import Conflict
from api.openapi_doc import errors
from api.schemas.common import Address, EthTx
from api.schemas.shipments import ETH, WithdrawTx
from chain.clients import EscrowClient

router = APIRouter(tags=["shipments"])


@router.get("/withdraw-tx", response_model=WithdrawTx, responses=errors(409))
def withdraw_tx(
    chain: ChainDep,
    principal: CurrentPrincipal,
    escrow_version: Annotated[int, Query(alias="escrowVersion", ge=1, le=2)] = 2,
    token: Annotated[Address, Query(description="The zero address for ETH")] = ETH,
) -> WithdrawTx:
    """ShipmentEscrow.withdraw(token) from the caller's wallet, with the amount it is owed; 409
    when that escrow release owes the wallet nothing in `token`."""
    wallet = wallet_of(principal)
    escrow: EscrowClient = (
        shipment_escrow_v2(chain) if escrow_version == 2 else shipment_escrow(chain)
    )
    owed = escrow.owed(wallet, token)
    what = "ETH" if token == ETH else f"token {token}"
    if owed == 0:
        raise Conflict(f"ShipmentEscrow v{escrow_version} owes {wallet} nothing in {what}")
    return WithdrawTx(
        description=f"ShipmentEscrow v{escrow_version}.withdraw({token}): pays {owed} of {what} "
        f"to {wallet}",
        owed_wei=str(owed),
        tx=EthTx.of(escrow.build_withdraw(wallet, token)),
    )
