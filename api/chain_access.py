"""Read-only chain use: typed clients at the deployment's addresses (the API never signs)."""

from __future__ import annotations

from api.errors import Conflict
from api.state import ChainAccess
from chain.clients import ShipmentEscrowClient, ShipmentEscrowV2Client, TraceAnchorClient
from chain.clients.trace_anchor_v2 import anchor_client


def trace_anchor(chain: ChainAccess) -> TraceAnchorClient:
    """The TraceAnchor release new roots go to (v2 once deployed; 503 without a chain)."""
    release = chain.deployment().roots_anchor
    return anchor_client(chain.web3(), release.version, release.address)


def shipment_escrow(chain: ChainAccess) -> ShipmentEscrowClient:
    """ShipmentEscrow at the verified deployment (503 without a chain)."""
    return ShipmentEscrowClient(chain.web3(), chain.deployment().shipment_escrow)


def shipment_escrow_v2(chain: ChainAccess) -> ShipmentEscrowV2Client:
    """ShipmentEscrow v2 at the verified deployment (503 without a chain; 409 if not deployed)."""
    address = chain.deployment().shipment_escrow_v2
    if address is None:
        raise Conflict("ShipmentEscrow v2 is not deployed on this chain")
    return ShipmentEscrowV2Client(chain.web3(), address)
