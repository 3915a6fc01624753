"""Shipments under escrow, with the devices that watch them and the items they carry."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.epcis.events import CONTAINER_EPC
from store._validate import bytes_of, checksum_address, hex32
from store.errors import StoreValueError
from store.models.base import Base, CreatedAt
from store.models.identity import Device, Item, Principal
from store.models.types import ShipmentStatus, Wei, str_enum

shipment_devices = Table(
    "shipment_devices",
    Base.metadata,
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True),
    Column("device_id", ForeignKey("devices.id"), primary_key=True, index=True),
)

shipment_items = Table(
    "shipment_items",
    Base.metadata,
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ForeignKey("items.id"), primary_key=True, index=True),
)

# Custodians of listed items who approved the shipment (store/custody.py).
custody_approvals = Table(
    "custody_approvals",
    Base.metadata,
    Column("shipment_id", ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True),
    Column("principal_id", ForeignKey("principals.id"), primary_key=True),
)


class Shipment(CreatedAt, Base):
    """A shipment: who carries it, who receives it, its signed terms and settlement outcome."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # bytes32 as 0x-hex, the id the escrow contract knows.
    shipment_id: Mapped[str] = mapped_column(String(66), unique=True, nullable=False)
    carrier_principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    consignee_principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    payee_address: Mapped[str] = mapped_column(String(42), nullable=False)
    buyer_address: Mapped[str] = mapped_column(String(42), nullable=False)
    terms_json: Mapped[str] = mapped_column(Text, nullable=False)
    terms_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    origin: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    destination: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    dest_lat_e7: Mapped[int | None] = mapped_column(Integer)
    dest_lon_e7: Mapped[int | None] = mapped_column(Integer)
    dest_radius_m: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[ShipmentStatus] = mapped_column(
        str_enum(ShipmentStatus, "shipment_status"), nullable=False, default=ShipmentStatus.CREATED
    )
    fund_tx_hash: Mapped[str | None] = mapped_column(String(66))
    attest_tx_hash: Mapped[str | None] = mapped_column(String(66))
    excursion_minutes: Mapped[int | None] = mapped_column(Integer)
    payout_wei: Mapped[int | None] = mapped_column(Wei())
    refund_wei: Mapped[int | None] = mapped_column(Wei())
    # The parties' 65-byte EIP-712 signatures over the terms, as they arrive.
    buyer_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    payee_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    carrier_signature: Mapped[bytes | None] = mapped_column(LargeBinary)  # v2 only
    # The escrow release the terms are for: 1 (Terms v1, ShipmentEscrow v1) or 2.
    escrow_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default="1"
    )
    # Whether its items need their custodians' consent (store/custody.py): every shipment since
    # migration 0012; those stored before were created under the earlier rules.
    custody_required: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=false()
    )
    # The sorted 32-byte reading digests behind the attested evidence root (escrow v2).
    attested_evidence: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # Terms v2's fundBy (unix seconds): unfunded after it, the shipment holds no items.
    fund_by: Mapped[int | None] = mapped_column(BigInteger)
    # Its container (logistic unit) EPC, core.epcis.events.CONTAINER_PREFIX + a random UUID:
    # packed into it at shipping, its sensor events name it instead of every item. None for a
    # shipment created before migration 0026 (its events name the items, as they always did).
    container_epc: Mapped[str | None] = mapped_column(String(45), unique=True, index=True)

    carrier: Mapped[Principal] = relationship(foreign_keys=[carrier_principal_id])
    consignee: Mapped[Principal] = relationship(foreign_keys=[consignee_principal_id])
    devices: Mapped[list[Device]] = relationship(secondary=shipment_devices)
    items: Mapped[list[Item]] = relationship(secondary=shipment_items)
    custody_approvers: Mapped[list[Principal]] = relationship(secondary=custody_approvals)

    @validates("shipment_id", "terms_hash", "fund_tx_hash", "attest_tx_hash")
    def _check_hex32(self, key: str, value: str | None) -> str | None:
        if value is None and key in ("fund_tx_hash", "attest_tx_hash"):
            return None
        return hex32(value, key)  # type: ignore[arg-type]

    @validates("container_epc")
    def _check_container(self, key: str, value: str | None) -> str | None:
        if value is not None and (not isinstance(value, str) or not CONTAINER_EPC.fullmatch(value)):
            raise StoreValueError(f"{key} must be urn:uuid:<lowercase uuid v4>, got {value!r}")
        return value

    @validates("payee_address", "buyer_address")
    def _check_address(self, key: str, value: str) -> str:
        return checksum_address(value, key)

    @validates("escrow_version")
    def _check_escrow_version(self, key: str, value: int) -> int:
        if value not in (1, 2) or isinstance(value, bool):
            raise StoreValueError(f"escrow_version must be 1 or 2, got {value!r}")
        return value

    @validates("buyer_signature", "payee_signature", "carrier_signature")
    def _check_signature(self, key: str, value: bytes | None) -> bytes | None:
        return None if value is None else bytes_of(value, 65, key)

    @validates("dest_lat_e7", "dest_lon_e7", "dest_radius_m")
    def _check_geofence(self, key: str, value: int | None) -> int | None:
        if value is None:
            return None
        limit = {"dest_lat_e7": 90 * 10**7, "dest_lon_e7": 180 * 10**7}.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise StoreValueError(f"{key} must be an integer")
        if limit is not None and not -limit <= value <= limit:
            raise StoreValueError(f"{key} out of range: {value}")
        if limit is None and not 0 < value <= 20_000_000:
            raise StoreValueError(f"{key} must be a positive radius in metres: {value}")
        return value
