"""Shared pydantic pieces: camelCase JSON, addresses, 32-byte hashes, signatures, GS1 keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from core.abi_values import check_address
from core.errors import Gs1Error
from core.gs1 import normalize_gtin, validate_company_prefix, validate_serial

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

Address = Annotated[str, AfterValidator(_address)]
Uri = Annotated[str, AfterValidator(_uri)]
Hex32 = Annotated[str, AfterValidator(_hex32)]
SignatureHex = Annotated[str, AfterValidator(_signature)]
# GS1 keys from outside, checked and normalised by core.gs1 (a GTIN becomes its 14 digits).
Gtin = Annotated[str, AfterValidator(_gs1(normalize_gtin))]
Serial = Annotated[str, AfterValidator(_gs1(validate_serial))]
CompanyPrefix = Annotated[str, AfterValidator(_gs1(validate_company_prefix))]


class TypedData(ApiModel):
    """An EIP-712 payload as eth_signTypedData_v4 takes it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    types: dict[str, list[dict[str, str]]]
    primary_type: str
    domain: dict[str, Any]
    message: dict[str, Any]


class UnsignedTx(ApiModel):
    """An unsigned transaction for the user's wallet to sign and send, with what it does."""

    description: str
    tx: dict[str, Any]


class SignatureIn(ApiModel):
    """A 65-byte EIP-712 signature made by the user's wallet."""

    signature: SignatureHex
