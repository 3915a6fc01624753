"""Shipments by who may see them, their signed terms, and the parties' terms signatures."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from core.eip712 import Terms, TermsV2
from core.hexstr import hex0x
from store.errors import NotFoundError
from store.models import Principal, Role, Shipment
from store.shipments import shipment_by_hex

BUYER, PAYEE, CARRIER = "buyer", "payee", "carrier"
# Roles that may read every shipment.
_OVERSEERS = frozenset({Role.ADMIN, Role.AUDITOR})


def is_party(shipment: Shipment, principal: Principal) -> bool:
    """Whether the principal is the shipment's carrier or consignee."""
    return principal.id in (shipment.carrier_principal_id, shipment.consignee_principal_id)


def visible_shipment(session: Session, principal: Principal, shipment_id: str) -> Shipment:
    """The shipment if the principal is a party (or admin/auditor); otherwise NotFoundError, as
    if absent (404)."""
    shipment = shipment_by_hex(session, shipment_id)
    if shipment is None or not (is_party(shipment, principal) or principal.role in _OVERSEERS):
        raise NotFoundError(f"no shipment {shipment_id} among yours")
    return shipment


def terms_of(shipment: Shipment) -> Terms | TermsV2:
    """The signed terms of a shipment: Terms v1, or Terms v2 for an escrow v2 shipment."""
    cls = TermsV2 if shipment.escrow_version == 2 else Terms
    return cls.from_json(json.loads(shipment.terms_json))


def signers(shipment: Shipment) -> tuple[str, ...]:
    """The parties whose signatures funding needs: buyer and payee, and the carrier on v2
    unless it is the payee (one signature serves both)."""
    terms = terms_of(shipment)
    if isinstance(terms, TermsV2) and terms.carrier != terms.payee:
        return (BUYER, PAYEE, CARRIER)
    return (BUYER, PAYEE)


def signatures(session: Session, shipment: Shipment) -> dict[str, str]:
    """The terms signatures received so far, by party, as 0x-hex."""
    stored = {
        BUYER: shipment.buyer_signature,
        PAYEE: shipment.payee_signature,
        CARRIER: shipment.carrier_signature,
    }
    return {party: hex0x(sig) for party, sig in stored.items() if sig is not None}


def add_signature(session: Session, shipment: Shipment, party: str, signature: str) -> None:
    """Record one party's terms signature (replacing an earlier one of the same party)."""
    raw = bytes.fromhex(signature.removeprefix("0x"))
    if party == BUYER:
        shipment.buyer_signature = raw
    elif party == PAYEE:
        shipment.payee_signature = raw
    elif party == CARRIER:
        shipment.carrier_signature = raw
    else:
        raise ValueError(f"unknown party {party!r}")
    session.flush()


def shipment_for_write(session: Session, shipment_id: str) -> Shipment:
    """The shipment (NotFoundError if absent); non-parties get 403 from the caller's role checks."""
    shipment = shipment_by_hex(session, shipment_id)
    if shipment is None:
        raise NotFoundError(f"no shipment {shipment_id}")
    return shipment
