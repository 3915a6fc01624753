"""Shared pydantic pieces: camelCase JSON, addresses, 32-byte hashes, signatures, GS1 keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from api.schemas.eth_json import Quantity, quantity, typed_data_json
from core.abi_values import check_address
from core.errors import Gs1Error
from core.gs1 import (
    PREFIX_MAX_LEN,
    PREFIX_MIN_LEN,
    SERIAL_MAX_LEN,
    normalize_gtin,
    validate_company_prefix,
    validate_serial,
)

_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
# RFC 3986 scheme ":" then at least one visible character (EPCIS location ids are URIs).
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[\x21-\x7e]+")


class ApiModel(BaseModel):
    """Base of every schema: camelCase on the wire, snake_case in Python, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def _address(value: str) -> str:
    return check_address(value, "the address", ValueError)


def _hex32(value: str) -> str:
    if not _HEX32.fullmatch(value):
        raise ValueError("must be 0x followed by 64 hex digits")
    return value.lower()


def _signature(value: str) -> str:
    if not _SIGNATURE.fullmatch(value):
        raise ValueError("must be a 65-byte signature: 0x followed by 130 hex digits (r, s, v)")
    return value.lower()


def _uri(value: str) -> str:
    if len(value) > 500 or not _URI.fullmatch(value):
        raise ValueError("must be an absolute URI such as urn:epc:id:sgln:0614141.00001.0")
    return value


def _gs1(check: Callable[[str], str]) -> Callable[[str], str]:
    """A core.gs1 check as a pydantic validator: its Gs1Error becomes the 422's message."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except Gs1Error as exc:
            raise ValueError(str(exc)) from None

    return validate


# Database ids and sequence numbers are signed 64-bit: a larger number is the client's error
# (422), never an overflow inside the database driver (500).
INT64_MAX = 2**63 - 1

# The OpenAPI document's patterns and formats describe each check below (schemathesis fuzzes the
# API from them); the validators stay the checks, with their own messages.
ADDRESS_PATTERN = "^0x[0-9a-fA-F]{40}$"
HEX32_PATTERN = "^0x[0-9a-fA-F]{64}$"
SIGNATURE_PATTERN = "^0x[0-9a-fA-F]{130}$"
GTIN_PATTERN = "^([0-9]{8}|[0-9]{12,14})$"
PREFIX_PATTERN = f"^[0-9]{{{PREFIX_MIN_LEN},{PREFIX_MAX_LEN}}}$"
# GS1 CS82 written out (re.escape's "\&" is invalid in an ECMA-262 unicode-mode pattern).
SERIAL_PATTERN = f"^[!\"%&'()*+,./0-9:;<=>?A-Z_a-z-]{{1,{SERIAL_MAX_LEN}}}$"
URI_PATTERN = "^[A-Za-z][A-Za-z0-9+.\\-]*:[\\x21-\\x7e]+$"


def _documented(pattern: str, format_: str | None = None, **extra: Any) -> Any:
    schema: dict[str, Any] = {"pattern": pattern, **extra}
    if format_ is not None:
        schema["format"] = format_
    return Field(json_schema_extra=schema)


Address = Annotated[
    str,
    AfterValidator(_address),
    _documented(ADDRESS_PATTERN, "eth-address", description="EIP-55 checksummed, or all-lower"),
]
Uri = Annotated[str, AfterValidator(_uri), _documented(URI_PATTERN, maxLength=500)]
Hex32 = Annotated[str, AfterValidator(_hex32), _documented(HEX32_PATTERN)]
SignatureHex = Annotated[str, AfterValidator(_signature), _documented(SIGNATURE_PATTERN)]
# GS1 keys from outside, checked and normalised by core.gs1 (a GTIN becomes its 14 digits).
Gtin = Annotated[
    str,
    AfterValidator(_gs1(normalize_gtin)),
    _documented(GTIN_PATTERN, "gs1-gtin", description="GTIN-8/12/13/14 with its check digit"),
]
Serial = Annotated[str, AfterValidator(_gs1(validate_serial)), _documented(SERIAL_PATTERN)]
CompanyPrefix = Annotated[
    str, AfterValidator(_gs1(validate_company_prefix)), _documented(PREFIX_PATTERN)
]


class TypedData(ApiModel):
    """An EIP-712 payload as eth_signTypedData_v4 takes it; the message's integers wider than 53
    bits are decimal strings (api/schemas/eth_json.py)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    types: dict[str, list[dict[str, str]]]
    primary_type: str
    domain: dict[str, Any]
    message: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _wide_ints(cls, data: Any) -> Any:
        return typed_data_json(data) if isinstance(data, Mapping) else data


def _absent(value: object) -> bool:
    return value is None


class EthTx(BaseModel):
    """An unsigned EIP-1559 (or legacy, where the chain has no base fee) transaction as
    eth_sendTransaction takes it: quantities are 0x-hex strings."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    from_: Address = Field(alias="from", description="The wallet that signs and sends it")
    to: Address
    data: str = Field(pattern="^0x([0-9a-f]{2})*$")
    value: Quantity = Field(description="Wei sent with the call")
    chain_id: Quantity = Field(alias="chainId")
    nonce: Quantity = Field(description="The sender's next nonce when it was built")
    gas: Quantity = Field(description="Estimated gas limit, with a margin")
    # The fees of the other kind are absent, never null: wallets refuse a null fee.
    max_fee_per_gas: Quantity | None = Field(None, alias="maxFeePerGas", exclude_if=_absent)
    max_priority_fee_per_gas: Quantity | None = Field(
        None, alias="maxPriorityFeePerGas", exclude_if=_absent
    )
    gas_price: Quantity | None = Field(None, alias="gasPrice", exclude_if=_absent)

    @classmethod
    def of(cls, tx: Mapping[str, Any]) -> EthTx:
        """A built transaction (web3 TxParams: int quantities) in its JSON-RPC form."""
        return cls.model_validate(dict(tx))

    @model_validator(mode="before")
    @classmethod
    def _quantities(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {k: quantity(v) for k, v in data.items()}


class UnsignedTx(ApiModel):
    """An unsigned transaction for the user's wallet to sign and send, with what it does."""

    description: str
    tx: EthTx


class SignatureIn(ApiModel):
    """A 65-byte EIP-712 signature made by the user's wallet."""

    signature: SignatureHex
