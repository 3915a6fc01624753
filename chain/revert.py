"""Decode revert data into the named exceptions of chain.errors and chain.solidity_errors."""

from __future__ import annotations

import re
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from web3.exceptions import ContractLogicError

from chain import solidity_errors
from chain.errors import ContractRevert, Panic, RevertMessage, UnknownRevert
from chain.toolchain.artifacts import selector_of

_HEX = re.compile(r"0x[0-9a-fA-F]*")


_NAMED: tuple[type[ContractRevert], ...] = (RevertMessage, Panic, *solidity_errors.ALL)
REGISTRY: dict[bytes, type[ContractRevert]] = {selector_of(c.signature): c for c in _NAMED}


def _normalise(value: Any, abi_type: str) -> Any:
    """Checksum addresses: eth-abi returns them lower-case."""
    if abi_type == "address" and isinstance(value, str):
        return to_checksum_address(value)
    return value


def decode_revert(data: bytes | str | None) -> ContractRevert:
    """The named exception for raw revert data (bytes or 0x-hex); never raises itself."""
    if isinstance(data, str):
        match = _HEX.search(data)
        raw = bytes.fromhex(match.group(0)[2:]) if match and len(match.group(0)) % 2 == 0 else b""
    else:
        raw = bytes(data or b"")
    if len(raw) < 4:
        return UnknownRevert("revert", data=raw)
    selector, body = raw[:4], raw[4:]
    cls = REGISTRY.get(selector)
    if cls is None:
        return UnknownRevert("UnknownError", selector=selector, data=raw)
    name = cls.signature.partition("(")[0]
    try:
        values = abi_decode(list(cls.arg_types), body, strict=False)
    except (DecodingError, ValueError, OverflowError):
        return UnknownRevert(name, selector=selector, data=raw)
    args = {
        n: _normalise(v, t) for n, v, t in zip(cls.arg_names, values, cls.arg_types, strict=True)
    }
    return cls(name, args, selector, raw)


def revert_data_from(exc: BaseException) -> str | bytes | None:
    """The revert data a web3 exception carries (its `data`, or a JSON-RPC error's data)."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str | bytes):
        return data
    for arg in exc.args:
        if isinstance(arg, dict):
            inner = arg.get("data")
            if isinstance(inner, str | bytes):
                return inner
            if isinstance(inner, dict) and isinstance(inner.get("data"), str):
                return str(inner["data"])
    return None


def is_revert(exc: BaseException) -> bool:
    """Whether a web3 exception reports an EVM revert (rather than a transport or node error)."""
    if isinstance(exc, ContractLogicError):
        return True
    message = str(exc).lower()
    return "revert" in message and revert_data_from(exc) is not None
