"""Shipments: creation with terms, the parties' signatures, the funding transaction, status."""

from __future__ import annotations

import json
import secrets
import time
import uuid

from fastapi import APIRouter, status
from sqlalchemy import or_, select

from api.chain_access import shipment_escrow, shipment_escrow_v2
from api.deps import BuyerPrincipal, ChainDep, CurrentPrincipal, SessionDep, wallet_of
from api.errors import Conflict, FieldError, Forbidden, NotFound
from api.escrow_view import as_of, escrow_public, followed, followed_many
from api.openapi_doc import errors
from api.schemas.common import EthTx, SignatureIn, TypedData, UnsignedTx
from api.schemas.shipments import (
    CustodyApproved,
    EscrowPublic,
    FundingTx,
    ItemRef,
    PartyPublic,
    ShipmentCreate,
    ShipmentCreated,
    ShipmentPublic,
    SignatureAccepted,
)
from api.signing import recover_signer, shipment_escrow_domain
from api.state import ChainAccess
from chain.clients import EscrowClient, ShipmentEscrowClient, ShipmentEscrowV2Client
from chain.transactions import chain_errors
from core.device_set import MAX_DEVICES, devices_root
from core.eip712 import Terms, TermsV2, terms_hash, typed_data
from core.epcis.events import CONTAINER_PREFIX
from core.hexstr import hex0x
from store.custody import approve, items_held_elsewhere, missing_consent
from store.models import Device, Item, Principal, Role, Shipment, ShipmentStatus
from store.queries import find_item
from store.shipment_access import (
    BUYER,
    CARRIER,
    PAYEE,
    add_signature,
    is_party,
    signatures,
    signers,
    terms_of,
    visible_shipment,
)
from store.shipments import shipment_by_hex

router = APIRouter(prefix="/shipments", tags=["shipments"])

ETH = "0x0000000000000000000000000000000000000000"
# ShipmentEscrow v2's bounds on the destination fence (docs/formats.md).
MIN_RADIUS_M, MAX_RADIUS_M = 100, 50_000
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
        escrow_version=shipment.escrow_version,
        status=shipment.status.value,
        carrier=_party(shipment.carrier),
        consignee=_party(shipment.consignee),
        buyer_address=shipment.buyer_address,
        payee_address=shipment.payee_address,
        origin=shipment.origin,
        destination=shipment.destination,
        items=[ItemRef(gtin=i.product.gtin, serial=i.serial) for i in shipment.items],
        devices=[d.address for d in shipment.devices],
        container=shipment.container_epc,
        terms=json.loads(shipment.terms_json),
        terms_hash=shipment.terms_hash,
        signatures={party: party in have for party in signers(shipment)},
        custody_complete=not missing_consent(session, shipment),
        created_at=shipment.created_at,
        fund_tx_hash=shipment.fund_tx_hash,
        excursion_minutes=shipment.excursion_minutes,
        payout_wei=None if shipment.payout_wei is None else str(shipment.payout_wei),
        refund_wei=None if shipment.refund_wei is None else str(shipment.refund_wei),
        escrow=escrow,
    )


# A shipment holds its items until they are received: an item is in at most one open shipment
# (an unfunded one only with its custodians' consent and before its fundBy: store/custody.py).
_OPEN = (
    ShipmentStatus.CREATED,
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ShipmentCreated, responses=errors(409)
)
def create(
    body: ShipmentCreate, session: SessionDep, chain: ChainDep, principal: BuyerPrincipal
) -> ShipmentCreated:
    """Create a shipment; returns its id and the Terms typed data its parties must sign.

    With `escrowV2` the shipment uses ShipmentEscrow v2: buyer, payee and the carrier sign
    (the carrier's wallet; one signature if it is the payee), `devices` (1 to 16, the
    carrier's) form the terms' devicesRoot, and the destination geofence is required.
    """
    buyer = wallet_of(principal)
    now = int(time.time())
    carrier = session.get(Principal, body.carrier)
    if carrier is None or carrier.role is not Role.CARRIER:
        raise FieldError(["body", "carrier"], f"principal {body.carrier} is not a carrier")
    if body.payee == buyer:
        raise FieldError(["body", "payee"], "the payee must differ from the buyer")
    items: list[Item] = []
    for index, ref in enumerate(body.items):
        loc: list[str | int] = ["body", "items", index]
        item = find_item(session, ref.gtin, ref.serial)
        if item is None:
            raise FieldError(loc, f"no item with GTIN {ref.gtin} and serial {ref.serial!r}")
        if item in items:
            raise FieldError(loc, "the same item appears twice")
        if item.commission_event_id is None:
            raise Conflict(f"item {ref.gtin}/{ref.serial} is not commissioned by its brand yet")
        if items_held_elsewhere(session, [item], _OPEN, now) is not None:
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
    if body.terms.deadline <= now:
        raise FieldError(["body", "terms", "deadline"], "the deadline has passed")
    shipment_id = hex0x(secrets.token_bytes(32))
    if body.escrow_v2 is None:
        terms: Terms | TermsV2 = _terms_v1(body, chain, buyer, shipment_id)
    else:
        terms = _terms_v2(body, chain, buyer, carrier, devices, shipment_id, now)
    fence = body.destination_geofence
    shipment = Shipment(
        shipment_id=shipment_id,
        carrier_principal_id=carrier.id,
        consignee_principal_id=principal.id,
        payee_address=body.payee,
        buyer_address=buyer,
        terms_json=json.dumps(terms.to_json()),
        terms_hash=hex0x(terms_hash(terms)),
        origin=body.origin,
        destination=body.destination,
        dest_lat_e7=fence.lat_e7 if fence else None,
        dest_lon_e7=fence.lon_e7 if fence else None,
        dest_radius_m=fence.radius_m if fence else None,
        items=items,
        devices=devices,
        escrow_version=2 if isinstance(terms, TermsV2) else 1,
        fund_by=terms.fund_by if isinstance(terms, TermsV2) else None,
        # Random, not derived from the shipment id: the public may see it, nothing links it.
        container_epc=CONTAINER_PREFIX + str(uuid.uuid4()),
    )
    session.add(shipment)
    session.commit()
    domain = shipment_escrow_domain(chain, shipment.escrow_version)
    return ShipmentCreated(
        shipment_id=shipment_id,
        terms_hash=shipment.terms_hash,
        typed_data=TypedData.model_validate(typed_data(terms, domain)),
    )


def _check_token(chain: ChainAccess, escrow: EscrowClient, token: str) -> None:
    if token != ETH and not escrow.is_token_allowed(token):
        # fund() would revert (unsupported token) after every party signed: refuse now.
        raise FieldError(["body", "terms", "token"], "token not on the allowlist")


def _terms_v1(body: ShipmentCreate, chain: ChainAccess, buyer: str, shipment_id: str) -> Terms:
    t = body.terms
    _check_token(chain, shipment_escrow(chain), t.token)
    return Terms(
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


def _terms_v2(
    body: ShipmentCreate,
    chain: ChainAccess,
    buyer: str,
    carrier: Principal,
    devices: list[Device],
    shipment_id: str,
    now: int,
) -> TermsV2:
    """Terms v2, refused with the field's name where fund() would revert after the signing."""
    t, v2, fence = body.terms, body.escrow_v2, body.destination_geofence
    assert v2 is not None
    escrow = shipment_escrow_v2(chain)
    _check_token(chain, escrow, t.token)
    if carrier.wallet_address is None:
        raise FieldError(["body", "carrier"], "the carrier has no wallet to sign the terms with")
    if not 1 <= len(devices) <= MAX_DEVICES:
        raise FieldError(["body", "devices"], f"escrow v2 needs 1 to {MAX_DEVICES} devices")
    if fence is None:
        raise FieldError(["body", "destinationGeofence"], "escrow v2 needs the destination fence")
    if not MIN_RADIUS_M <= fence.radius_m <= MAX_RADIUS_M:
        raise FieldError(
            ["body", "destinationGeofence", "radiusM"],
            f"escrow v2 accepts {MIN_RADIUS_M} m to {MAX_RADIUS_M} m",
        )
    loc = ["body", "escrowV2"]
    if not now < v2.fund_by <= t.deadline:
        raise FieldError([*loc, "fundBy"], "fundBy must be in the future and not after deadline")
    if v2.auto_accept_after and (t.arbiter == ETH or t.dispute_timeout == 0):
        raise FieldError(
            [*loc, "autoAcceptAfter"], "device arrival needs an arbiter and a dispute timeout"
        )
    if t.arbiter in (buyer, body.payee, carrier.wallet_address):
        raise FieldError(["body", "terms", "arbiter"], "the arbiter must not be a party")
    if t.arbiter != ETH and t.dispute_timeout == 0:
        raise FieldError(["body", "terms", "disputeTimeout"], "an arbiter needs a dispute timeout")
    least = v2.arrival_dwell_minutes * 60 + v2.auto_accept_after + 3_600
    if t.refund_grace < least:
        raise FieldError(
            ["body", "terms", "refundGrace"],
            f"escrow v2 needs refundGrace >= dwell + autoAcceptAfter + 1 h = {least} s",
        )
    if not escrow.has_role(escrow.oracle_role(), v2.oracle) or escrow.is_oracle_paused(v2.oracle):
        raise FieldError([*loc, "oracle"], f"{v2.oracle} is not an active oracle of escrow v2")
    return TermsV2(
        shipment_id=bytes.fromhex(shipment_id[2:]),
        buyer=buyer,
        payee=body.payee,
        carrier=carrier.wallet_address,
        token=t.token,
        amount=t.amount_wei,
        min_temp_centi_c=t.min_temp_centi_c,
        max_temp_centi_c=t.max_temp_centi_c,
        min_humidity_centi_pct=v2.min_humidity_centi_pct,
        max_humidity_centi_pct=v2.max_humidity_centi_pct,
        max_shock_milli_g=v2.max_shock_milli_g,
        grace_minutes=t.grace_minutes,
        penalty_bps_per_minute=t.penalty_bps_per_minute,
        penalty_bps_per_shock=v2.penalty_bps_per_shock,
        penalty_bps_per_late_hour=v2.penalty_bps_per_late_hour,
        penalty_cap_bps=t.penalty_cap_bps,
        max_gap_minutes=t.max_gap_minutes,
        fund_by=v2.fund_by,
        deadline=t.deadline,
        refund_grace=t.refund_grace,
        dispute_window=t.dispute_window,
        arbiter=t.arbiter,
        dispute_timeout=t.dispute_timeout,
        devices_root=devices_root([d.address for d in devices]),
        dest_lat_e7=fence.lat_e7,
        dest_lon_e7=fence.lon_e7,
        dest_radius_m=fence.radius_m,
        arrival_dwell_minutes=v2.arrival_dwell_minutes,
        auto_accept_after=v2.auto_accept_after,
        oracle=v2.oracle,
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


@router.get("/{shipment_id}", response_model=ShipmentPublic, responses=errors(404))
def get(shipment_id: str, session: SessionDep, principal: CurrentPrincipal) -> ShipmentPublic:
    """A shipment: status, terms, signatures, and the escrow as the chain follower read it."""
    at = as_of(session)  # first: the status read below includes every block up to it
    shipment = visible_shipment(session, principal, shipment_id)
    escrow = escrow_public(session, followed(session, shipment, at))
    return shipment_public(session, shipment, escrow)


@router.get("/{shipment_id}/typed-data", response_model=TypedData, responses=errors(404))
def terms_typed_data(
    shipment_id: str, session: SessionDep, chain: ChainDep, principal: CurrentPrincipal
) -> TypedData:
    """The Terms typed data (ShipmentEscrow domain) buyer and payee sign."""
    shipment = visible_shipment(session, principal, shipment_id)
    domain = shipment_escrow_domain(chain, shipment.escrow_version)
    return TypedData.model_validate(typed_data(terms_of(shipment), domain))


@router.post(
    "/{shipment_id}/signatures", response_model=SignatureAccepted, responses=errors(403, 404, 409)
)
def add_terms_signature(
    shipment_id: str,
    body: SignatureIn,
    session: SessionDep,
    chain: ChainDep,
    principal: CurrentPrincipal,
) -> SignatureAccepted:
    """Accept a party's signature over the terms (whichever key signed): buyer or payee, and on
    escrow v2 the carrier."""
    shipment = visible_shipment(session, principal, shipment_id)
    if not is_party(shipment, principal):
        raise Forbidden("only the shipment's buyer or carrier may submit signatures")
    if shipment.status is not ShipmentStatus.CREATED:
        raise Conflict(f"the shipment is already {shipment.status.value}")
    terms = terms_of(shipment)
    domain = shipment_escrow_domain(chain, shipment.escrow_version)
    signer = recover_signer(terms, domain, body.signature, ["body", "signature"])
    needed = signers(shipment)
    roles = {BUYER: terms.buyer, PAYEE: terms.payee}
    if isinstance(terms, TermsV2):
        roles[CARRIER] = terms.carrier
    matched = [party for party in needed if roles[party] == signer]
    if not matched:
        named = ", ".join(f"the {party} {roles[party]}" for party in needed)
        raise FieldError(["body", "signature"], f"signed by {signer}, which is none of {named}")
    party = matched[0]
    add_signature(session, shipment, party, body.signature)
    session.commit()
    have = signatures(session, shipment)
    return SignatureAccepted(
        signer=signer,
        role=party,
        signatures={p: p in have for p in needed},
        ready_to_fund=all(p in have for p in needed),
    )


@router.post(
    "/{shipment_id}/custody-approval", response_model=CustodyApproved, responses=errors(404, 409)
)
def custody_approval(
    shipment_id: str, session: SessionDep, principal: CurrentPrincipal
) -> CustodyApproved:
    """The custodian of listed items (their brand, or their last consignee) consents to the
    shipment; anyone else gets 404, as if the shipment did not exist."""
    shipment = shipment_by_hex(session, shipment_id)
    if shipment is None or shipment.status is not ShipmentStatus.CREATED:
        raise NotFound(f"no shipment {shipment_id} awaiting your approval")
    held = approve(session, shipment, principal)
    if not held:
        raise NotFound(f"no shipment {shipment_id} awaiting your approval")
    session.commit()
    return CustodyApproved(
        items=[ItemRef(gtin=i.product.gtin, serial=i.serial) for i in held],
        custody_complete=not missing_consent(session, shipment),
    )


@router.get("/{shipment_id}/funding-tx", response_model=FundingTx, responses=errors(403, 404, 409))
def funding_tx(
    shipment_id: str, session: SessionDep, chain: ChainDep, principal: CurrentPrincipal
) -> FundingTx:
    """The buyer's unsigned funding: ShipmentEscrow.fund, preceded for a token by approve."""
    shipment = visible_shipment(session, principal, shipment_id)
    if principal.id != shipment.consignee_principal_id:
        raise Forbidden("only the buyer funds the escrow")
    have = signatures(session, shipment)
    missing = [p for p in signers(shipment) if p not in have]
    if missing:
        raise Conflict(f"waiting for the {' and '.join(missing)} signature(s) over the terms")
    if missing_consent(session, shipment):
        raise Conflict(
            "waiting for the custodians of the listed items to approve the shipment"
            " (POST /shipments/{id}/custody-approval by the brand or the last consignee)"
        )
    if items_held_elsewhere(session, shipment.items, _OPEN, int(time.time()), mine=shipment):
        raise Conflict("an item of this shipment is already in another open shipment")
    terms = terms_of(shipment)
    if isinstance(terms, TermsV2) and int(time.time()) > terms.fund_by:
        raise Conflict("funding closed at the terms' fundBy: create a new shipment")
    escrow: EscrowClient = (
        shipment_escrow_v2(chain) if isinstance(terms, TermsV2) else shipment_escrow(chain)
    )
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
                tx=EthTx.of(approval),
            ),
        )
    buyer_sig, payee_sig = (bytes.fromhex(have[p][2:]) for p in (BUYER, PAYEE))
    if isinstance(terms, TermsV2):
        assert isinstance(escrow, ShipmentEscrowV2Client)
        carrier_sig = bytes.fromhex(have[CARRIER][2:]) if CARRIER in have else b""
        tx = escrow.build_fund(terms, buyer_sig, payee_sig, carrier_sig)
    else:
        assert isinstance(escrow, ShipmentEscrowClient)
        tx = escrow.build_fund(terms, buyer_sig, payee_sig)
    what = (
        f"sending {terms.amount} wei"
        if terms.token == ETH
        else f"taking {terms.amount} of token {terms.token} (approved)"
    )
    return FundingTx(
        description=f"ShipmentEscrow v{shipment.escrow_version}.fund for shipment "
        f"{shipment.shipment_id}, {what}",
        tx=EthTx.of(tx),
    )


def _allowance(chain: ChainAccess, token: str, owner: str, spender: str) -> int:
    """The ERC-20 allowance `owner` gave `spender`."""
    erc20 = chain.web3().eth.contract(address=token, abi=_ERC20_ALLOWANCE_ABI)  # type: ignore[call-overload]
    with chain_errors():
        return int(erc20.functions.allowance(owner, spender).call())
