"""EIP-712 domains of the deployment and signature checks that answer 422 naming the field."""

from __future__ import annotations

from collections.abc import Sequence

from api.errors import Conflict, FieldError
from api.state import ChainAccess
from core.eip712 import (
    Domain,
    Struct,
    anchor_domain,
    anchor_domain_v2,
    escrow_domain,
    escrow_domain_v2,
    recover,
)
from core.errors import Eip712Error
from core.signature import signature_from_hex


def trace_anchor_domain(chain: ChainAccess) -> Domain:
    """TraceAnchor v1's domain: devices sign their registration and readings under it (devices
    in the field keep it; ShipmentEscrow v2 checks dispute evidence against it)."""
    deployment = chain.deployment()
    return anchor_domain(deployment.chain_id, deployment.trace_anchor)


def commissioning_domain(chain: ChainAccess) -> tuple[Domain, int]:
    """The domain a brand signs a Commissioning root under, and its TraceAnchor release: the
    release new roots go to."""
    deployment = chain.deployment()
    release = deployment.roots_anchor
    if release.version == 2:
        return anchor_domain_v2(deployment.chain_id, release.address), release.version
    return anchor_domain(deployment.chain_id, release.address), release.version


def shipment_escrow_domain(chain: ChainAccess, version: int = 1) -> Domain:
    """The domain (Terms, DeliveryAttestation) of the deployment's ShipmentEscrow `version`."""
    deployment = chain.deployment()
    if version == 2:
        address = deployment.shipment_escrow_v2
        if address is None:
            raise Conflict("ShipmentEscrow v2 is not deployed on this chain")
        return escrow_domain_v2(deployment.chain_id, address)
    return escrow_domain(deployment.chain_id, deployment.shipment_escrow)


def recover_signer(
    msg: Struct, domain: Domain, signature_hex: str, loc: Sequence[str | int]
) -> str:
    """The address that signed `msg` in `domain`; a malformed signature is a 422 at `loc`."""
    try:
        return recover(msg, domain, signature_from_hex(signature_hex))
    except Eip712Error as exc:
        raise FieldError(loc, f"not a valid signature: {exc}") from None
