"""Hex text of bytes as every JSON and log of the project writes it: 0x-prefixed, lower case."""

from __future__ import annotations


def hex0x(value: bytes | bytearray | memoryview) -> str:
    """0x-prefixed lower-case hex of `value` (a tx hash, root, salt, signature, ...)."""
    return "0x" + bytes(value).hex()
