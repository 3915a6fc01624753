"""EIP-712 domains of the deployment and signature checks that answer 422 naming the field."""

from __future__ import annotations

from collections.abc import Sequence

from api.errors import FieldError
from api.state import ChainAccess
from core.eip712 import Domain, Struct, anchor_domain, escrow_domain, recover
from core.errors import Eip712Error
from core.signature import signature_from_hex


def trace_anchor_domain(chain: ChainAccess) -> Domain:
    """The TraceAnchor domain (Commissioning, DeviceRegistration, Reading) of the deployment."""
    deployment = chain.deployment()
    return anchor_domain(deployment.chain_id, deployment.trace_anchor)


def shipment_escrow_domain(chain: ChainAccess) -> Domain:
    """The ShipmentEscrow domain (Terms, DeliveryAttestation) of the deployment."""
    deployment = chain.deployment()
    return escrow_domain(deployment.chain_id, deployment.shipment_escrow)


def recover_signer(
    msg: Struct, domain: Domain, signature_hex: str, loc: Sequence[str | int]
) -> str:
    """The address that signed `msg` in `domain`; a malformed signature is a 422 at `loc`."""
    try:
        return recover(msg, domain, signature_from_hex(signature_hex))
    except Eip712Error as exc:
        raise FieldError(loc, f"not a valid signature: {exc}") from None
