"""Typed clients of the deployed contracts: reads return dataclasses, writes build or send txs."""

from chain.clients.base import ContractClient, Signer
from chain.clients.shipment_escrow import ShipmentEscrowClient
from chain.clients.trace_anchor import TraceAnchorClient
from chain.clients.types import RootInfo, ShipmentState, ShipmentView, TxResult

__all__ = [
    "ContractClient",
    "RootInfo",
    "ShipmentEscrowClient",
    "ShipmentState",
    "ShipmentView",
    "Signer",
    "TraceAnchorClient",
    "TxResult",
]
