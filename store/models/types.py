"""Portable column types: UTC timestamps, wei amounts, enums stored as checked strings."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

# uint256 has at most 78 decimal digits.
WEI_DIGITS = 78
_MAX_UINT256 = 2**256 - 1


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Wei(TypeDecorator[int]):
    """A uint256 amount: NUMERIC(78, 0) on PostgreSQL, a decimal string on SQLite (exact)."""

    impl = Numeric(WEI_DIGITS, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # SQLite's NUMERIC affinity turns integers above 2**63 into lossy REALs.
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(WEI_DIGITS))
        return dialect.type_descriptor(Numeric(WEI_DIGITS, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"wei amount must be an int, got {type(value).__name__}")
        if not 0 <= value <= _MAX_UINT256:
            raise ValueError(f"wei amount out of uint256 range: {value}")
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR + CHECK enum storing the members' values (portable, no PostgreSQL TYPE)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(str(m.value)) for m in enum_cls),
        values_callable=lambda cls: [str(m.value) for m in cls],
    )


class Role(enum.StrEnum):
    """What a principal may do."""

    ADMIN = "admin"
    BRAND = "brand"
    CARRIER = "carrier"
    BUYER = "buyer"
    AUDITOR = "auditor"


class ShipmentStatus(enum.StrEnum):
    """A shipment's lifecycle, in order; refunded ends a shipment that was never attested."""

    CREATED = "created"
    FUNDED = "funded"
    SHIPPING = "shipping"
    ARRIVED = "arrived"
    RECEIVED = "received"
    ATTESTED = "attested"
    SETTLED = "settled"
    REFUNDED = "refunded"


class BatchStatus(enum.StrEnum):
    """An anchor batch's lifecycle: pending -> sent -> anchored -> final, or failed."""

    PENDING = "pending"
    SENT = "sent"
    ANCHORED = "anchored"
    FINAL = "final"
    FAILED = "failed"


class EventKind(enum.IntEnum):
    """Event identity kind (docs/formats.md): 0 EPCIS event, 1 errorDeclaration."""

    EVENT = 0
    ERROR_DECLARATION = 1
