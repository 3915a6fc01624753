"""Typed results of the contract clients: frozen dataclasses, no web3 types."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from core import escrow_times

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    gas_used: int
    effective_gas_price: int
    contract_address: str | None = None
    logs: tuple[Any, ...] = ()

    @property
    def fee(self) -> int:
        """Wei the sender paid for gas."""
        return self.gas_used * self.effective_gas_price

    @classmethod
    def from_receipt(cls, receipt: Any) -> TxResult:
        """Build from a web3 receipt (an AttributeDict)."""
        return cls(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=int(receipt.get("effectiveGasPrice", 0)),
            contract_address=receipt.get("contractAddress"),
            logs=tuple(receipt.get("logs", ())),
        )


@dataclass(frozen=True)
class RootInfo:
    """TraceAnchor.rootInfo: anchored_at == 0 means the root was never anchored."""

    anchored_at: int
    block_number: int
    leaf_count: int
    brand: str | None  # None for platform batches
    brand_revoked_at: int = 0  # when the root's brand was revoked (0: not revoked)
    # TraceAnchor v2 only (v1 records none of them; None: the release cannot tell).
    brand_compromised_since: int = 0
    endorsed_by: str | None = None
    endorsed_at: int = 0
    brand_confirmed: bool | None = None

    @property
    def anchored(self) -> bool:
        """Whether the root is on chain."""
        return self.anchored_at != 0

    @property
    def brand_revoked(self) -> bool:
        """Whether the brand that commissioned this root has since been revoked."""
        return self.brand_revoked_at != 0


class ShipmentState(enum.IntEnum):
    """IShipmentEscrow.State."""

    NONE = 0
    FUNDED = 1
    ATTESTED = 2
    SETTLED = 3
    REFUNDED = 4
    DISPUTED = 5


@dataclass(frozen=True)
class ShipmentView:
    """ShipmentEscrow.shipment: the stored record (state NONE and zeros if unknown)."""

    terms_hash: bytes
    buyer: str
    deadline: int
    penalty_bps_per_minute: int
    payee: str
    refund_grace: int
    penalty_cap_bps: int
    token: str  # ZERO_ADDRESS for ETH
    dispute_window: int
    arbiter: str  # ZERO_ADDRESS: no disputes
    dispute_timeout: int
    amount: int  # the deposit received (less than the terms' amount for fee-on-transfer tokens)
    attested_at: int
    disputed_at: int
    state: ShipmentState
    evidence_root: bytes
    payout: int
    refund: int

    @property
    def dispute_ends_at(self) -> int | None:
        """When the dispute window closes and settle() of an undisputed one becomes possible."""
        return escrow_times.dispute_ends_at(self.attested_at, self.dispute_window)

    @property
    def dispute_times_out_at(self) -> int | None:
        """When an unresolved dispute may be settled with the attestation's split (None if none)."""
        return escrow_times.dispute_times_out_at(self.disputed_at, self.dispute_timeout)

    @property
    def settleable_at(self) -> int | None:
        """When settle() succeeds: the window's end, or a dispute's timeout; None otherwise."""
        if self.state is ShipmentState.ATTESTED:
            return self.dispute_ends_at
        if self.state is ShipmentState.DISPUTED:
            return self.dispute_times_out_at
        return None

    @property
    def refundable_at(self) -> int:
        """When refund() becomes possible if no attestation came (deadline + refund grace)."""
        return escrow_times.refundable_at(self.deadline, self.refund_grace)


class ShipmentStateV2(enum.IntEnum):
    """IShipmentEscrowV2.State (a different order from v1's)."""

    NONE = 0
    FUNDED = 1
    ATTESTED = 2
    DISPUTED = 3
    SETTLED = 4
    REFUNDED = 5


@dataclass(frozen=True)
class ShipmentViewV2:
    """ShipmentEscrow v2's stored record (IShipmentEscrowV2.Shipment; state NONE if unknown)."""

    terms_hash: bytes
    buyer: str
    funded_at: int
    state: ShipmentStateV2
    payee: str
    deadline: int
    carrier: str
    refund_grace: int
    token: str
    dispute_window: int
    arbiter: str
    dispute_timeout: int
    oracle: str
    oracle_suspended_at_fund: int
    amount: int
    devices_root: bytes
    evidence_root: bytes
    attested_at: int
    disputed_at: int
    window_start: int
    delivered_at: int
    payout: int
    refund: int

    @property
    def settleable_at(self) -> int | None:
        """When settle() succeeds: the window's end, or a dispute's timeout; None otherwise."""
        if self.state is ShipmentStateV2.ATTESTED:
            return escrow_times.dispute_ends_at(self.attested_at, self.dispute_window)
        if self.state is ShipmentStateV2.DISPUTED:
            return escrow_times.dispute_times_out_at(self.disputed_at, self.dispute_timeout)
        return None
