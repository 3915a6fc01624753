"""Ethereum numbers on the wire: no JSON number a JavaScript client would round.

JavaScript reads every JSON number as a double: above 2^53 it silently changes the value
(1234567890123456789 becomes 1234567890123456800), and a client that signs what it was given signs
something else. So the API writes
- an EIP-712 message's integers of a Solidity type wider than 53 bits (uint64, uint256, ...) and
  every wei amount as a decimal string ("1234567890123456789"), as eth_signTypedData_v4, ethers and
  eth-account take them;
- an unsigned transaction as eth_sendTransaction takes it: quantities as 0x-hex strings;
and reads such integers as decimal strings, or as JSON numbers below 2^53 only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

SAFE_INTEGER_MAX = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
_INT_TYPE = re.compile(r"(u?)int(\d*)")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
DECIMAL_PATTERN = "^(0|[1-9][0-9]{0,77})$"
QUANTITY_PATTERN = "^0x(0|[1-9a-f][0-9a-f]{0,63})$"


def is_wide_int(sol_type: str) -> bool:
    """Whether a Solidity integer type can hold values a JSON number loses (over 53 bits)."""
    match = _INT_TYPE.fullmatch(sol_type)
    return match is not None and int(match.group(2) or 256) > 53


def message_json(fields: Iterable[tuple[str, str]], message: Mapping[str, Any]) -> dict[str, Any]:
    """`message` with its wide integers (by `fields`' (name, Solidity type)) as decimal strings."""
    wide = {name for name, sol_type in fields if is_wide_int(sol_type)}
    return {
        name: str(value) if name in wide and _is_int(value) else value
        for name, value in message.items()
    }


def typed_data_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """An eth_signTypedData_v4 payload with its message's wide integers as decimal strings."""
    out = dict(data)
    types, primary = data.get("types"), data.get("primaryType")
    if isinstance(types, Mapping) and isinstance(data.get("message"), Mapping):
        members = types.get(primary, ())
        fields = [(m["name"], m["type"]) for m in members if isinstance(m, Mapping)]
        out["message"] = message_json(fields, data["message"])
    return out


def quantity(value: object) -> object:
    """An integer as a JSON-RPC quantity (0x-hex, no leading zeros); anything else unchanged."""
    return hex(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _digits(bits: int) -> int:
    """The most decimal digits every value of which fits in `bits` bits (77 for uint256)."""
    return len(str(2**bits)) - 1


def _uint_in(bits: int, minimum: int) -> Any:
    digits = _digits(bits)

    def parse(value: object) -> int:
        if isinstance(value, str):
            if not _DECIMAL.fullmatch(value) or len(value) > digits:
                raise ValueError(
                    f"must be a decimal string of at most {digits} digits, without sign or spaces"
                )
            number = int(value)
        elif _is_int(value) or (isinstance(value, float) and value.is_integer()):
            # JSON Schema counts 5.0 as an integer: so does the API (within the safe range).
            number = int(value)  # type: ignore[call-overload]
            if number > SAFE_INTEGER_MAX:
                raise ValueError(
                    f"send uint{bits} as a decimal string: a JSON number above 2^53 - 1 is "
                    "rounded by JavaScript clients"
                )
        else:
            raise ValueError("must be a decimal string (or a JSON integer below 2^53)")
        if number < minimum:
            raise ValueError(f"must be at least {minimum}")
        return number

    return parse


def _uint_schema(bits: int, minimum: int) -> dict[str, Any]:
    digits = _digits(bits)
    pattern = (
        f"^[1-9][0-9]{{0,{digits - 1}}}$" if minimum > 0 else f"^(0|[1-9][0-9]{{0,{digits - 1}}})$"
    )
    return {
        "anyOf": [
            {"type": "string", "pattern": pattern},
            {"type": "integer", "minimum": minimum, "maximum": SAFE_INTEGER_MAX},
        ],
        "description": f"uint{bits}: a decimal string of at most {digits} digits, or a JSON "
        "integer below 2^53",
    }


def uint_in(bits: int, minimum: int = 0) -> Any:
    """A request's unsigned integer of `bits` bits: a decimal string of at most as many digits as
    always fit (77 for uint256), or a JSON number below 2^53; at least `minimum` (0 or 1)."""
    return Annotated[
        int,
        BeforeValidator(_uint_in(bits, minimum)),
        WithJsonSchema(_uint_schema(bits, minimum), mode="validation"),
    ]


Uint256In = uint_in(256)
PositiveUint256In = uint_in(256, minimum=1)
Uint64In = uint_in(64)
PositiveUint64In = uint_in(64, minimum=1)
Uint63In = uint_in(63)  # what a signed 64-bit database column holds

# In responses: an amount as a decimal string, a transaction's quantity as 0x-hex.
DecimalString = Annotated[str, Field(pattern=DECIMAL_PATTERN)]
Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN)]
