"""Devices: registration with proof of possession, listing and revocation (carrier's own only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy import select

import api.path_convertors  # noqa: F401 (registers {x:device})
from api.deps import CarrierPrincipal, ChainDep, SessionDep, wallet_of
from api.errors import Conflict, FieldError, NotFound
from api.openapi_doc import errors
from api.schemas.common import Address, TypedData
from api.schemas.devices import DeviceCreate, DevicePublic
from api.signing import recover_signer, trace_anchor_domain
from core.eip712 import DeviceRegistration, typed_data
from core.epcis.events import device_event
from core.epcis.hashed_event import HashedEvent
from store import record_event
from store.models import Device, Principal
from store.models.types import utcnow

router = APIRouter(prefix="/devices", tags=["devices"])


def device_public(device: Device) -> DevicePublic:
    """The owner's view of a device."""
    return DevicePublic(
        address=device.address,
        label=device.label,
        owner_principal_id=device.owner_principal_id,
        registered_at=device.registered_at,
        revoked_at=device.revoked_at,
        active=device.revoked_at is None,
        last_acked_seq=device.last_acked_seq,
    )


def own_device(session: SessionDep, principal: Principal, address: str) -> Device:
    """The caller's device at `address`; another carrier's device is as unknown as a missing one."""
    device = session.scalar(select(Device).where(Device.address == address))
    if device is None or device.owner_principal_id != principal.id:
        raise NotFound(f"no device {address} among your devices")
    return device


@router.get("/registration-typed-data", response_model=TypedData, responses=errors(409))
def registration_typed_data(
    chain: ChainDep,
    principal: CarrierPrincipal,
    address: Annotated[Address, Query(description="The device's address")],
) -> TypedData:
    """The DeviceRegistration typed data the device key signs to register with the caller."""
    msg = DeviceRegistration(device=address, operator=wallet_of(principal))
    return TypedData.model_validate(typed_data(msg, trace_anchor_domain(chain)))


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DevicePublic, responses=errors(409)
)
def register(
    body: DeviceCreate, session: SessionDep, chain: ChainDep, principal: CarrierPrincipal
) -> DevicePublic:
    """Register a device; the signature proves the caller's operator wallet holds its key."""
    operator = wallet_of(principal)
    msg = DeviceRegistration(device=body.address, operator=operator)
    signer = recover_signer(msg, trace_anchor_domain(chain), body.signature, ["body", "signature"])
    if signer != body.address:
        raise FieldError(
            ["body", "signature"],
            f"signed by {signer}, not by the device {body.address}: the device key must sign "
            f"DeviceRegistration(device={body.address}, operator={operator})",
        )
    if session.scalar(select(Device.id).where(Device.address == body.address)) is not None:
        raise Conflict(f"device {body.address} is already registered (revoked keys stay retired)")
    device = Device(address=body.address, owner_principal_id=principal.id, label=body.label)
    session.add(device)
    session.flush()
    # Anchored as the carrier's event: an auditor checks the registration from the chain.
    _record(
        session,
        principal,
        device_event(device.address, operator, device.registered_at, signature=body.signature),
    )
    session.commit()
    return device_public(device)


@router.get("", response_model=list[DevicePublic])
def list_own(
    session: SessionDep,
    principal: CarrierPrincipal,
    include_revoked: bool = Query(default=False, alias="includeRevoked"),
) -> list[DevicePublic]:
    """The caller's devices (active ones unless includeRevoked=true)."""
    stmt = select(Device).where(Device.owner_principal_id == principal.id).order_by(Device.id)
    if not include_revoked:
        stmt = stmt.where(Device.revoked_at.is_(None))
    return [device_public(d) for d in session.scalars(stmt)]


@router.get("/{address:device}", response_model=DevicePublic, responses=errors(404))
def get(address: Address, session: SessionDep, principal: CarrierPrincipal) -> DevicePublic:
    """One of the caller's devices."""
    return device_public(own_device(session, principal, address))


@router.delete("/{address:device}", response_model=DevicePublic, responses=errors(404, 409))
def revoke(address: Address, session: SessionDep, principal: CarrierPrincipal) -> DevicePublic:
    """Revoke one of the caller's devices: readings taken from now on are refused (its backlog
    taken before is still accepted for GATEWAY_REVOKED_BACKLOG_S)."""
    device = own_device(session, principal, address)
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        _record(
            session,
            principal,
            device_event(device.address, wallet_of(principal), device.revoked_at),
        )
        session.commit()
    return device_public(device)


def _record(session: SessionDep, principal: Principal, event: dict[str, Any]) -> None:
    """Store the carrier's device event with its pending leaf (anchored with the next batch)."""
    record_event(session, HashedEvent.of(event), recorded_by=principal.id)
