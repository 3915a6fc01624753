"""EIP-712 messages of docs/formats.md built with eth-account, independently of the contracts."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

# Type strings copied from docs/formats.md (field name, type) in order.
TYPES: dict[str, list[tuple[str, str]]] = {
    "Reading": [
        ("device", "address"),
        ("seq", "uint64"),
        ("takenAtMs", "uint64"),
        ("temperatureCentiC", "int32"),
        ("humidityCentiPct", "uint32"),
        ("shockMilliG", "uint32"),
        ("latE7", "int32"),
        ("lonE7", "int32"),
    ],
    "Commissioning": [("brand", "address"), ("root", "bytes32"), ("leafCount", "uint32")],
    "DeviceRegistration": [("device", "address"), ("operator", "address")],
    "Terms": [
        ("shipmentId", "bytes32"),
        ("buyer", "address"),
        ("payee", "address"),
        ("token", "address"),
        ("amount", "uint256"),
        ("minTempCentiC", "int32"),
        ("maxTempCentiC", "int32"),
        ("graceMinutes", "uint32"),
        ("penaltyBpsPerMinute", "uint32"),
        ("penaltyCapBps", "uint32"),
        ("maxGapMinutes", "uint32"),
        ("deadline", "uint64"),
        ("refundGrace", "uint64"),
        ("disputeWindow", "uint64"),
        ("arbiter", "address"),
        ("disputeTimeout", "uint64"),
    ],
    "DeliveryAttestation": [
        ("shipmentId", "bytes32"),
        ("termsHash", "bytes32"),
        ("evidenceRoot", "bytes32"),
        ("excursionMinutes", "uint32"),
        ("deliveredAt", "uint64"),
    ],
}

ANCHOR_DOMAIN_NAME = "chaintrace TraceAnchor"
ESCROW_DOMAIN_NAME = "chaintrace ShipmentEscrow"


def type_string(primary: str) -> str:
    """`Name(type1 name1,...)` as docs/formats.md writes it."""
    return f"{primary}({','.join(f'{t} {n}' for n, t in TYPES[primary])})"


def typehash(primary: str) -> bytes:
    """keccak256 of the type string."""
    return keccak(text=type_string(primary))


def domain(name: str, chain_id: int, contract: str) -> dict[str, Any]:
    """An EIP-712 domain of version "1"."""
    return {"name": name, "version": "1", "chainId": chain_id, "verifyingContract": contract}


def message(primary: str, dom: dict[str, Any], values: dict[str, Any]) -> SignableMessage:
    """The EIP-712 signable message (eth-account's encoder)."""
    types = {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        primary: [{"name": n, "type": t} for n, t in TYPES[primary]],
    }
    full = {"types": types, "primaryType": primary, "domain": dom, "message": values}
    return encode_typed_data(full_message=full)


def struct_hash(primary: str, values: dict[str, Any]) -> bytes:
    """hashStruct(values) (the body of the signable message; domain irrelevant)."""
    dummy = domain("x", 1, "0x" + "00" * 20)
    return bytes(message(primary, dummy, values).body)


def digest(primary: str, dom: dict[str, Any], values: dict[str, Any]) -> bytes:
    """keccak256("\\x19\\x01" || domainSeparator || hashStruct(message))."""
    msg = message(primary, dom, values)
    return keccak(b"\x19" + msg.version + msg.header + msg.body)


def sign(account: LocalAccount, primary: str, dom: dict[str, Any], values: dict[str, Any]) -> bytes:
    """A 65-byte (r, s, v) signature of the typed message."""
    return bytes(Account.sign_message(message(primary, dom, values), account.key).signature)
