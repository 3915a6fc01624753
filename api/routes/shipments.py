"""Shipments: creation with terms, the parties' signatures, the funding transaction, status."""

from __future__ import annotations

import json
import secrets
import time

from fastapi import APIRouter, status
from sqlalchemy import or_, select

from api.catalog import gtin14, serial_value
from api.chain_access import shipment_escrow
from api.deps import BuyerPrincipal, ChainDep, CurrentPrincipal, SessionDep, wallet_of
from api.errors import Conflict, FieldError, Forbidden
from api.escrow_view import as_of, escrow_public, followed, followed_many
from api.schemas.common import SignatureIn, TypedData, UnsignedTx
from api.schemas.shipments import (
    EscrowPublic,
    FundingTx,
    ItemRef,
    PartyPublic,
    ShipmentCreate,
    ShipmentCreated,
    ShipmentPublic,
    SignatureAccepted,
)
from api.shipment_store import (
    BUYER,
    PAYEE,
    add_signature,
    is_party,
    signatures,
    terms_of,
    visible_shipment,
)
from api.signing import recover_signer, shipment_escrow_domain
from api.state import ChainAccess
from chain.transactions import chain_errors
from core.eip712 import Terms, terms_hash, typed_data
from store.models import Device, Item, Principal, Role, Shipment, ShipmentStatus
from store.models.shipments import shipment_items
from store.queries import find_item

router = APIRouter(prefix="/shipments", tags=["shipments"])

ETH = "0x0000000000000000000000000000000000000000"
_ERC20_ALLOWANCE_ABI = [
    {
        "type": "function",
        "name": "allowance",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]


def _party(principal: Principal) -> PartyPublic:
    return PartyPublic(
        id=principal.id, name=principal.name, wallet_address=principal.wallet_address
    )


def shipment_public(
    session: SessionDep, shipment: Shipment, escrow: EscrowPublic | None = None
) -> ShipmentPublic:
    """The parties' view of a shipment."""
    have = signatures(session, shipment)
    return ShipmentPublic(
        shipment_id=shipment.shipment_id,
        status=shipment.status.value,
        carrier=_party(shipment.carrier),
        consignee=_party(shipment.consignee),
        buyer_address=shipment.buyer_address,
        payee_address=shipment.payee_address,
        origin=shipment.origin,
        destination=shipment.destination,
        items=[ItemRef(gtin=i.product.gtin, serial=i.serial) for i in shipment.items],
        devices=[d.address for d in shipment.devices],
        terms=json.loads(shipment.terms_json),
        terms_hash=shipment.terms_hash,
        signatures={BUYER: BUYER in have, PAYEE: PAYEE in have},
        created_at=shipment.created_at,
        fund_tx_hash=shipment.fund_tx_hash,
        excursion_minutes=shipment.excursion_minutes,
        payout_wei=None if shipment.payout_wei is None else str(shipment.payout_wei),
        refund_wei=None if shipment.refund_wei is None else str(shipment.refund_wei),
        escrow=escrow,
    )


# A shipment holds its items until they are received: an item is in at most one open shipment.
_OPEN = (
    ShipmentStatus.CREATED,
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ShipmentCreated)
def create(
    body: ShipmentCreate, session: SessionDep, chain: ChainDep, principal: BuyerPrincipal
) -> ShipmentCreated:
    """Create a shipment; returns its id and the Terms typed data buyer and payee must sign."""
    buyer = wallet_of(principal)
    carrier = session.get(Principal, body.carrier)
    if carrier is None or carrier.role is not Role.CARRIER:
        raise FieldError(["body", "carrier"], f"principal {body.carrier} is not a carrier")
    if body.payee == buyer:
        raise FieldError(["body", "payee"], "the payee must differ from the buyer")
    items: list[Item] = []
    for index, ref in enumerate(body.items):
        loc: list[str | int] = ["body", "items", index]
        item = find_item(
            session, gtin14(ref.gtin, [*loc, "gtin"]), serial_value(ref.serial, [*loc, "serial"])
        )
        if item is None:
            raise FieldError(loc, f"no item with GTIN {ref.gtin} and serial {ref.serial!r}")
        if item in items:
            raise FieldError(loc, "the same item appears twice")
        if item.commission_event_id is None:
            raise Conflict(f"item {ref.gtin}/{ref.serial} is not commissioned by its brand yet")
        moving = session.scalar(
            select(Shipment.id)
            .join(shipment_items, shipment_items.c.shipment_id == Shipment.id)
            .where(shipment_items.c.item_id == item.id, Shipment.status.in_(_OPEN))
        )
        if moving is not None:
            # Not which one: the other shipment may be another buyer's (a 409 never names
            # another party's objects).
            raise Conflict(f"item {ref.gtin}/{ref.serial} is already in another open shipment")
        items.append(item)
    devices: list[Device] = []
    for index, address in enumerate(body.devices):
        device = session.scalar(select(Device).where(Device.address == address))
        if device is None or device.owner_principal_id != carrier.id:
            raise FieldError(
                ["body", "devices", index], f"{address} is not a device of the carrier"
            )
        if device.revoked_at is not None:
            raise FieldError(["body", "devices", index], f"device {address} is revoked")
        if device in devices:
            raise FieldError(["body", "devices", index], "the same device appears twice")
        devices.append(device)
    if body.terms.deadline <= int(time.time()):
        raise FieldError(["body", "terms", "deadline"], "the deadline has passed")
    domain = shipment_escrow_domain(chain)
    if body.terms.token != ETH and not shipment_escrow(chain).is_token_allowed(body.terms.token):
        # fund() would revert with EscrowUnsupportedToken after both parties signed: refuse now.
        raise FieldError(["body", "terms", "token"], "token not on the allowlist")
    shipment_id = "0x" + secrets.token_bytes(32).hex()
    t = body.terms
    terms = Terms(
        shipment_id=bytes.fromhex(shipment_id[2:]),
        buyer=buyer,
        payee=body.payee,
        token=t.token,
        amount=t.amount_wei,
        min_temp_centi_c=t.min_temp_centi_c,
        max_temp_centi_c=t.max_temp_centi_c,
        grace_minutes=t.grace_minutes,
        penalty_bps_per_minute=t.penalty_bps_per_minute,
        penalty_cap_bps=t.penalty_cap_bps,
        max_gap_minutes=t.max_gap_minutes,
        deadline=t.deadline,
        refund_grace=t.refund_grace,
        dispute_window=t.dispute_window,
        arbiter=t.arbiter,
        dispute_timeout=t.dispute_timeout,
    )
    fence = body.destination_geofence
    shipment = Shipment(
        shipment_id=shipment_id,
        carrier_principal_id=carrier.id,
        consignee_principal_id=principal.id,
        payee_address=body.payee,
        buyer_address=buyer,
        terms_json=json.dumps(terms.to_json()),
        terms_hash="0x" + terms_hash(terms).hex(),
        origin=body.origin,
        destination=body.destination,
        dest_lat_e7=fence.lat_e7 if fence else None,
        dest_lon_e7=fence.lon_e7 if fence else None,
        dest_radius_m=fence.radius_m if fence else None,
        items=items,
        devices=devices,
    )
    session.add(shipment)
    session.commit()
    return ShipmentCreated(
        shipment_id=shipment_id,
        terms_hash=shipment.terms_hash,
        typed_data=TypedData.model_validate(typed_data(terms, domain)),
    )


@router.get("", response_model=list[ShipmentPublic])
def list_own(session: SessionDep, principal: CurrentPrincipal) -> list[ShipmentPublic]:
    """The shipments the caller carries or receives (all of them for admin and auditor)."""
    at = as_of(session)  # first: the statuses read below include every block up to it
    stmt = select(Shipment).order_by(Shipment.id)
    if principal.role not in (Role.ADMIN, Role.AUDITOR):
        stmt = stmt.where(
            or_(
                Shipment.carrier_principal_id == principal.id,
                Shipment.consignee_principal_id == principal.id,
            )
        )
    shipments = list(session.scalars(stmt))
    escrows = followed_many(session, shipments, at)
    return [
        shipment_public(session, s, escrow_public(session, escrows.get(s.shipment_id)))
        for s in shipments
    ]


@router.get("/{shipment_id}", response_model=ShipmentPublic)
def get(shipment_id: str, session: SessionDep, principal: CurrentPrincipal) -> ShipmentPublic:
    """A shipment: status, terms, signatures, and the escrow as the chain follower read it."""
    at = as_of(session)  # first: the status read below includes every block up to it
    shipment = visible_shipment(session, principal, shipment_id)
    escrow = escrow_public(session, followed(session, shipment, at))
    return shipment_public(session, shipment, escrow)


@router.get("/{shipment_id}/typed-data", response_model=TypedData)
def terms_typed_data(
    shipment_id: str, session: SessionDep, chain: ChainDep, principal: CurrentPrincipal
) -> TypedData:
    """The Terms typed data (ShipmentEscrow domain) buyer and payee sign."""
    shipment = visible_shipment(session, principal, shipment_id)
    domain = shipment_escrow_domain(chain)
    return TypedData.model_validate(typed_data(terms_of(shipment), domain))


@router.post("/{shipment_id}/signatures", response_model=SignatureAccepted)
def add_terms_signature(
    shipment_id: str,
    body: SignatureIn,
    session: SessionDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
) -> SignatureAccepted:
    """Accept the buyer's or the payee's signature over the terms (whichever key signed)."""
    shipment = visible_shipment(session, principal, shipment_id)
    if not is_party(shipment, principal):
        raise Forbidden("only the shipment's buyer or carrier may submit signatures")
    if shipment.status is not ShipmentStatus.CREATED:
        raise Conflict(f"the shipment is already {shipment.status.value}")
    terms = terms_of(shipment)
    signer = recover_signer(
        terms, shipment_escrow_domain(chain), body.signature, ["body", "signature"]
    )
    if signer == terms.buyer:
        party = BUYER
    elif signer == terms.payee:
        party = PAYEE
    else:
        raise FieldError(
            ["body", "signature"],
            f"signed by {signer}, which is neither the buyer {terms.buyer} "
            f"nor the payee {terms.payee}",
        )
    add_signature(session, shipment, party, body.signature)
    session.commit()
    have = signatures(session, shipment)
    return SignatureAccepted(
        signer=signer,
        role=party,
        signatures={BUYER: BUYER in have, PAYEE: PAYEE in have},
        ready_to_fund=BUYER in have and PAYEE in have,
    )


@router.get("/{shipment_id}/funding-tx", response_model=FundingTx)
def funding_tx(
    shipment_id: str, session: SessionDep, chain: ChainDep, principal: CurrentPrincipal
) -> FundingTx:
    """The buyer's unsigned funding: ShipmentEscrow.fund, preceded for a token by approve."""
    shipment = visible_shipment(session, principal, shipment_id)
    if principal.id != shipment.consignee_principal_id:
        raise Forbidden("only the buyer funds the escrow")
    have = signatures(session, shipment)
    missing = [p for p in (BUYER, PAYEE) if p not in have]
    if missing:
        raise Conflict(f"waiting for the {' and '.join(missing)} signature(s) over the terms")
    terms = terms_of(shipment)
    escrow = shipment_escrow(chain)
    if terms.token != ETH and _allowance(chain, terms.token, terms.buyer, escrow.address) < (
        terms.amount
    ):
        # fund() pulls the tokens with transferFrom: it cannot even be estimated before approval.
        approval = escrow.build_token_approval(terms.buyer, terms.token, terms.amount)
        return FundingTx(
            description=f"step 1 of 2: approve the escrow to take {terms.amount} of token "
            f"{terms.token}; once it is mined, ask for funding-tx again for the fund transaction",
            tx=None,
            approval=UnsignedTx(
                description=f"ERC-20 approve({escrow.address}, {terms.amount}) on {terms.token}",
                tx=dict(approval),
            ),
        )
    tx = escrow.build_fund(terms, bytes.fromhex(have[BUYER][2:]), bytes.fromhex(have[PAYEE][2:]))
    what = (
        f"sending {terms.amount} wei"
        if terms.token == ETH
        else f"taking {terms.amount} of token {terms.token} (approved)"
    )
    return FundingTx(
        description=f"ShipmentEscrow.fund for shipment {shipment.shipment_id}, {what}",
        tx=dict(tx),
    )


def _allowance(chain: ChainAccess, token: str, owner: str, spender: str) -> int:
    """The ERC-20 allowance `owner` gave `spender`."""
    erc20 = chain.web3().eth.contract(address=token, abi=_ERC20_ALLOWANCE_ABI)  # type: ignore[call-overload]
    with chain_errors():
        return int(erc20.functions.allowance(owner, spender).call())
