"""Who acts and what they own: principals, API keys, brands, products, items, devices."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from store._validate import checksum_address, digits
from store.errors import StoreValueError
from store.models.base import Base, CreatedAt
from store.models.types import Role, UTCDateTime, str_enum, utcnow


class Principal(CreatedAt, Base):
    """A user of the platform: one role, optionally one wallet."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), nullable=False)
    wallet_address: Mapped[str | None] = mapped_column(String(42), unique=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # no key works then

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="principal")

    @validates("wallet_address")
    def _check_wallet(self, _key: str, value: str | None) -> str | None:
        return None if value is None else checksum_address(value, "wallet_address")

    @validates("name")
    def _check_name(self, _key: str, value: str) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise StoreValueError("principal name must be 1-200 characters")
        return value


class ApiKey(CreatedAt, Base):
    """An API key bound to one principal; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: never
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # to LAST_USED_STEP

    principal: Mapped[Principal] = relationship(back_populates="api_keys")


class Brand(CreatedAt, Base):
    """A brand owner: one principal, one GS1 company prefix."""

    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), unique=True, nullable=False
    )
    company_prefix: Mapped[str] = mapped_column(String(12), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    chain_tx_hash: Mapped[str | None] = mapped_column(String(66))

    principal: Mapped[Principal] = relationship()
    products: Mapped[list[Product]] = relationship(back_populates="brand")

    @validates("company_prefix")
    def _check_prefix(self, _key: str, value: str) -> str:
        return digits(value, range(6, 13), "company_prefix")


class Product(CreatedAt, Base):
    """A trade item (GTIN-14) of a brand."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), nullable=False, index=True)
    gtin: Mapped[str] = mapped_column(String(14), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)

    brand: Mapped[Brand] = relationship(back_populates="products")

    @validates("gtin")
    def _check_gtin(self, _key: str, value: str) -> str:
        return digits(value, range(14, 15), "gtin")


class Item(CreatedAt, Base):
    """One serialised instance of a product (GTIN + serial = SGTIN)."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("product_id", "serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), nullable=False)
    # GS1 AI (21) serials are up to 20 characters.
    serial: Mapped[str] = mapped_column(String(20), nullable=False)
    commission_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    # From the commissioning's ILMD (cbvmda:lotNumber, AI 10, and cbvmda:itemExpirationDate,
    # AI 17); None for items commissioned without them (and all items before revision 0019).
    lot: Mapped[str | None] = mapped_column(String(20))
    expiry: Mapped[date | None] = mapped_column(Date)

    product: Mapped[Product] = relationship()

    @validates("serial")
    def _check_serial(self, _key: str, value: str) -> str:
        if not isinstance(value, str) or not 1 <= len(value) <= 20:
            raise StoreValueError(f"serial must be 1-20 characters: {value!r}")
        return value


class Device(CreatedAt, Base):
    """A sensor device with its own secp256k1 key, owned by one principal."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True, nullable=False)
    owner_principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id"), nullable=False, index=True
    )
    label: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_acked_seq: Mapped[int | None] = mapped_column(BigInteger)

    owner: Mapped[Principal] = relationship()

    @validates("address")
    def _check_address(self, _key: str, value: str) -> str:
        return checksum_address(value, "device address")
