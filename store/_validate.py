"""Normalisers for values that come from outside: addresses, hex hashes, fixed-size bytes."""

from __future__ import annotations

import re

from core.abi_values import check_address
from store.errors import StoreValueError

# Values per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
IN_CHUNK = 500

_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")
_DIGITS = re.compile(r"[0-9]+")


def checksum_address(value: str, what: str = "address") -> str:
    """The EIP-55 checksummed form of a 20-byte hex address, or StoreValueError."""
    return check_address(value, what, StoreValueError)


def hex32(value: str, what: str = "hash") -> str:
    """A 0x-prefixed lowercase 32-byte hex string, or StoreValueError."""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise StoreValueError(f"{what} is not 0x + 64 hex digits: {value!r}")
    return value.lower()


def bytes_of(value: bytes, size: int, what: str) -> bytes:
    """The value itself if it is exactly `size` bytes, else StoreValueError."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise StoreValueError(f"{what} must be bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != size:
        raise StoreValueError(f"{what} must be {size} bytes, got {len(raw)}")
    return raw


def digits(value: str, lengths: range, what: str) -> str:
    """The value if it is all ASCII digits with a length in `lengths`, else StoreValueError."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) not in lengths:
        raise StoreValueError(
            f"{what} must be {lengths.start}-{lengths.stop - 1} digits: {value!r}"
        )
    return value
