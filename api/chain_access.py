"""Read-only chain use: typed clients at the deployment's addresses (the API never signs)."""

from __future__ import annotations

from api.state import ChainAccess
from chain.clients import ShipmentEscrowClient, TraceAnchorClient


def trace_anchor(chain: ChainAccess) -> TraceAnchorClient:
    """TraceAnchor at the verified deployment (503 without a chain)."""
    return TraceAnchorClient(chain.web3(), chain.deployment().trace_anchor)


def shipment_escrow(chain: ChainAccess) -> ShipmentEscrowClient:
    """ShipmentEscrow at the verified deployment (503 without a chain)."""
    return ShipmentEscrowClient(chain.web3(), chain.deployment().shipment_escrow)
