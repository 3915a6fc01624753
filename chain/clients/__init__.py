"""Typed clients of the deployed contracts: reads return dataclasses, writes build or send txs."""

from chain.clients.base import ContractClient, Signer
from chain.clients.escrow_base import EscrowClient
from chain.clients.shipment_escrow import ShipmentEscrowClient
from chain.clients.shipment_escrow_v2 import ShipmentEscrowV2Client
from chain.clients.trace_anchor import TraceAnchorClient
from chain.clients.trace_anchor_v2 import TraceAnchorV2Client
from chain.clients.types import (
    RootInfo,
    ShipmentState,
    ShipmentStateV2,
    ShipmentView,
    ShipmentViewV2,
    TxResult,
)

__all__ = [
    "ContractClient",
    "EscrowClient",
    "RootInfo",
    "ShipmentEscrowClient",
    "ShipmentEscrowV2Client",
    "ShipmentState",
    "ShipmentStateV2",
    "ShipmentView",
    "ShipmentViewV2",
    "Signer",
    "TraceAnchorClient",
    "TraceAnchorV2Client",
    "TxResult",
]
