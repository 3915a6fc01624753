"""Strict checks of ABI values coming from outside: addresses, intN/uintN, bytes32."""

from __future__ import annotations

import functools
import re

from eth_utils.address import is_hex_address, to_checksum_address

from core.errors import CoreValueError

_INT_TYPE = re.compile(r"(u?)int(\d+)")
_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


def int_bounds(sol_type: str) -> tuple[int, int]:
    """Inclusive (min, max) of a Solidity intN/uintN type."""
    match = _INT_TYPE.fullmatch(sol_type)
    if match is None or not 8 <= int(match.group(2)) <= 256 or int(match.group(2)) % 8:
        raise ValueError(f"not a Solidity integer type: {sol_type}")
    bits = int(match.group(2))
    if match.group(1):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def check_int(
    value: object, sol_type: str, what: str, error: type[CoreValueError] = CoreValueError
) -> int:
    """`value` as an int that fits `sol_type`; bools, floats and strings are refused."""
    # bool is an int subclass and a float would be rounded: neither may reach a signature.
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an integer ({sol_type}), got {type(value).__name__}")
    lo, hi = int_bounds(sol_type)
    if not lo <= value <= hi:
        raise error(f"{what} must be {sol_type} ({lo}..{hi}), got {value}")
    return value


@functools.lru_cache(maxsize=4096)
def _checksummed(value: str) -> str | None:
    """EIP-55 form of a valid address string, or None; cached as devices repeat addresses."""
    if not value.startswith("0x") or not is_hex_address(value):
        return None
    return to_checksum_address(value)


def check_address(value: object, what: str, error: type[ValueError] = CoreValueError) -> str:
    """A 0x-prefixed 20-byte hex address, returned checksummed; a wrong checksum is refused.

    The one address check of the project: each layer passes its own error type."""
    if not isinstance(value, str) or (checksummed := _checksummed(value)) is None:
        raise error(f"{what} must be a 0x-prefixed 20-byte hex address, got {value!r:.80}")
    body = value[2:]
    # All-lower or all-upper hex carries no EIP-55 checksum; mixed case must be exact.
    if body != body.lower() and body != body.upper() and value != checksummed:
        raise error(f"{what} has an invalid EIP-55 checksum: {value}")
    return checksummed


def check_bytes32(value: object, what: str, error: type[CoreValueError] = CoreValueError) -> bytes:
    """Exactly 32 bytes."""
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise error(f"{what} must be 32 bytes, got {value!r:.80}")
    return bytes(value)


def hex32(value: object, what: str, error: type[CoreValueError] = CoreValueError) -> bytes:
    """Decode a 0x-prefixed 32-byte hex string."""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise error(f"{what} must be a 0x-prefixed 32-byte hex string, got {value!r:.80}")
    return bytes.fromhex(value[2:])
