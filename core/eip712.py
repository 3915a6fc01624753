"""CONSENSUS-CRITICAL: the EIP-712 types and domains of docs/formats.md, hashing and signing.

The type strings below are copied byte for byte from docs/formats.md (a test compares them);
each dataclass's fields follow the type's field order in snake_case. Signatures are 65 bytes
r || s || v with v in {27, 28} and low s, as OpenZeppelin ECDSA accepts them.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar, cast

from eth_abi.abi import encode as abi_encode
from eth_account import Account

from core.abi_values import check_address, check_bytes32, check_int, hex32
from core.errors import Eip712Error
from core.hexstr import hex0x
from core.keccak import keccak
from core.signature import recover_digest as recover_digest
from core.signature import signature_from_hex as signature_from_hex

ANCHOR_DOMAIN_NAME = "chaintrace TraceAnchor"
ESCROW_DOMAIN_NAME = "chaintrace ShipmentEscrow"
DOMAIN_VERSION = "1"
ANCHOR_DOMAIN_VERSION_V2 = "2"
ESCROW_DOMAIN_VERSION_V2 = "2"
DOMAIN_TYPE_STRING = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_TYPEHASH = keccak(DOMAIN_TYPE_STRING.encode())
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_TYPE_STRING = re.compile(r"([A-Za-z]\w*)\(((?:\w+ \w+)(?:,\w+ \w+)*)\)")


def _check(value: object, sol_type: str, what: str) -> object:
    if sol_type == "address":
        return check_address(value, what, Eip712Error)
    if sol_type == "bytes32":
        return check_bytes32(value, what, Eip712Error)
    return check_int(value, sol_type, what, Eip712Error)


@dataclasses.dataclass(frozen=True)
class Field:
    """One member of an EIP-712 struct type."""

    name: str
    sol_type: str
    attr: str


class Struct:
    """Base of the message types: validation, JSON form, struct hash."""

    TYPE_NAME: ClassVar[str]
    TYPE_STRING: ClassVar[str]
    TYPE_HASH: ClassVar[bytes]
    FIELDS: ClassVar[tuple[Field, ...]]

    def __post_init__(self) -> None:
        for f in self.FIELDS:
            what = f"{self.TYPE_NAME}.{f.name}"
            object.__setattr__(self, f.attr, _check(getattr(self, f.attr), f.sol_type, what))

    def values(self) -> list[Any]:
        """Field values in type order."""
        return [getattr(self, f.attr) for f in self.FIELDS]

    def to_json(self) -> dict[str, Any]:
        """The EIP-712 `message` object: ints, checksummed addresses, 0x-hex bytes32."""
        return {
            f.name: hex0x(v) if isinstance(v, bytes) else v
            for f, v in zip(self.FIELDS, self.values(), strict=True)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Self:
        """Parse a JSON object keyed by the type's field names, with strict value types."""
        if not isinstance(data, Mapping):
            raise Eip712Error(f"{cls.TYPE_NAME} must be a JSON object, got {type(data).__name__}")
        names = [f.name for f in cls.FIELDS]
        missing = [n for n in names if n not in data]
        extra = sorted(str(k) for k in data if k not in names)
        if missing or extra:
            raise Eip712Error(f"{cls.TYPE_NAME}: missing fields {missing}, unknown fields {extra}")
        kwargs: dict[str, object] = {}
        for f in cls.FIELDS:
            value = data[f.name]
            if f.sol_type == "bytes32":
                value = hex32(value, f"{cls.TYPE_NAME}.{f.name}", Eip712Error)
            kwargs[f.attr] = value
        return cls(**kwargs)

    def struct_hash(self) -> bytes:
        """hashStruct: keccak256(typeHash || abi.encode(fields))."""
        types = ["bytes32", *(f.sol_type for f in self.FIELDS)]
        return keccak(abi_encode(types, [self.TYPE_HASH, *self.values()]))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


S = TypeVar("S", bound=type[Struct])


def _eip712_type(type_string: str) -> Callable[[S], S]:
    """Bind a dataclass to its EIP-712 type string; its fields must match it in order."""
    match = _TYPE_STRING.fullmatch(type_string)
    if match is None:
        raise AssertionError(f"not an EIP-712 type string: {type_string}")
    fields = tuple(
        Field(name, sol_type, _snake(name))
        for sol_type, name in (member.split(" ") for member in match.group(2).split(","))
    )

    def bind(cls: S) -> S:
        declared = tuple(f.name for f in dataclasses.fields(cast(Any, cls)))
        if declared != tuple(f.attr for f in fields):
            raise AssertionError(f"{cls.__name__} fields {declared} do not match {type_string}")
        cls.TYPE_NAME = match.group(1)
        cls.TYPE_STRING = type_string
        cls.TYPE_HASH = keccak(type_string.encode())
        cls.FIELDS = fields
        return cls

    return bind


@_eip712_type(
    "Reading(address device,uint64 seq,uint64 takenAtMs,int32 temperatureCentiC,"
    "uint32 humidityCentiPct,uint32 shockMilliG,int32 latE7,int32 lonE7)"
)
@dataclasses.dataclass(frozen=True)
class Reading(Struct):
    """One signed sensor reading (TraceAnchor domain)."""

    device: str
    seq: int
    taken_at_ms: int
    temperature_centi_c: int
    humidity_centi_pct: int
    shock_milli_g: int
    lat_e7: int
    lon_e7: int


@_eip712_type("Commissioning(address brand,bytes32 root,uint32 leafCount)")
@dataclasses.dataclass(frozen=True)
class Commissioning(Struct):
    """A brand's signature over a commissioning Merkle root (TraceAnchor domain)."""

    brand: str
    root: bytes
    leaf_count: int


@_eip712_type("DeviceRegistration(address device,address operator)")
@dataclasses.dataclass(frozen=True)
class DeviceRegistration(Struct):
    """A device key's proof of possession for its operator (TraceAnchor domain)."""

    device: str
    operator: str


@_eip712_type(
    "Terms(bytes32 shipmentId,address buyer,address payee,address token,uint256 amount,"
    "int32 minTempCentiC,int32 maxTempCentiC,uint32 graceMinutes,uint32 penaltyBpsPerMinute,"
    "uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 deadline,uint64 refundGrace,"
    "uint64 disputeWindow,address arbiter,uint64 disputeTimeout)"
)
@dataclasses.dataclass(frozen=True)
class Terms(Struct):
    """SLA terms signed by buyer and payee (ShipmentEscrow domain)."""

    shipment_id: bytes
    buyer: str
    payee: str
    token: str
    amount: int
    min_temp_centi_c: int
    max_temp_centi_c: int
    grace_minutes: int
    penalty_bps_per_minute: int
    penalty_cap_bps: int
    max_gap_minutes: int
    deadline: int
    refund_grace: int
    dispute_window: int
    arbiter: str
    dispute_timeout: int


@_eip712_type(
    "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,"
    "uint32 excursionMinutes,uint64 deliveredAt)"
)
@dataclasses.dataclass(frozen=True)
class DeliveryAttestation(Struct):
    """The oracle's delivery attestation (ShipmentEscrow domain)."""

    shipment_id: bytes
    terms_hash: bytes
    evidence_root: bytes
    excursion_minutes: int
    delivered_at: int


@_eip712_type(
    "Terms(bytes32 shipmentId,address buyer,address payee,address carrier,address token,"
    "uint256 amount,int32 minTempCentiC,int32 maxTempCentiC,uint32 minHumidityCentiPct,"
    "uint32 maxHumidityCentiPct,uint32 maxShockMilliG,uint32 graceMinutes,"
    "uint32 penaltyBpsPerMinute,uint32 penaltyBpsPerShock,uint32 penaltyBpsPerLateHour,"
    "uint32 penaltyCapBps,uint32 maxGapMinutes,uint64 fundBy,uint64 deadline,uint64 refundGrace,"
    "uint64 disputeWindow,address arbiter,uint64 disputeTimeout,bytes32 devicesRoot,"
    "int32 destLatE7,int32 destLonE7,uint32 destRadiusM,uint32 arrivalDwellMinutes,"
    "uint64 autoAcceptAfter,address oracle)"
)
@dataclasses.dataclass(frozen=True)
class TermsV2(Struct):
    """Escrow v2 terms signed by buyer, payee and carrier (ShipmentEscrow domain version 2)."""

    shipment_id: bytes
    buyer: str
    payee: str
    carrier: str
    token: str
    amount: int
    min_temp_centi_c: int
    max_temp_centi_c: int
    min_humidity_centi_pct: int
    max_humidity_centi_pct: int
    max_shock_milli_g: int
    grace_minutes: int
    penalty_bps_per_minute: int
    penalty_bps_per_shock: int
    penalty_bps_per_late_hour: int
    penalty_cap_bps: int
    max_gap_minutes: int
    fund_by: int
    deadline: int
    refund_grace: int
    dispute_window: int
    arbiter: str
    dispute_timeout: int
    devices_root: bytes
    dest_lat_e7: int
    dest_lon_e7: int
    dest_radius_m: int
    arrival_dwell_minutes: int
    auto_accept_after: int
    oracle: str


@_eip712_type(
    "DeliveryAttestation(bytes32 shipmentId,bytes32 termsHash,bytes32 evidenceRoot,"
    "uint32 excursionMinutes,uint32 shockCount,uint64 windowStart,uint64 deliveredAt,"
    "uint8 deliveryBasis)"
)
@dataclasses.dataclass(frozen=True)
class DeliveryAttestationV2(Struct):
    """The oracle's v2 attestation; deliveryBasis 0 receiving, 1 device arrival."""

    shipment_id: bytes
    terms_hash: bytes
    evidence_root: bytes
    excursion_minutes: int
    shock_count: int
    window_start: int
    delivered_at: int
    delivery_basis: int


@_eip712_type("MutualRelease(bytes32 shipmentId,uint256 payout)")
@dataclasses.dataclass(frozen=True)
class MutualRelease(Struct):
    """A payout both parties co-sign when no attestation can come (escrow v2 domain)."""

    shipment_id: bytes
    payout: int


MESSAGE_TYPES: tuple[type[Struct], ...] = (
    Reading,
    Commissioning,
    DeviceRegistration,
    Terms,
    DeliveryAttestation,
    TermsV2,
    DeliveryAttestationV2,
    MutualRelease,
)


@dataclasses.dataclass(frozen=True)
class Domain:
    """An EIP712Domain(name, version, chainId, verifyingContract)."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        for attr in ("name", "version"):
            if not isinstance(getattr(self, attr), str):
                raise Eip712Error(f"Domain.{attr} must be a string")
        check_int(self.chain_id, "uint256", "Domain.chainId", Eip712Error)
        if self.chain_id == 0:
            raise Eip712Error("Domain.chainId must be positive")
        address = check_address(self.verifying_contract, "Domain.verifyingContract", Eip712Error)
        object.__setattr__(self, "verifying_contract", address)

    def to_json(self) -> dict[str, Any]:
        """The EIP-712 `domain` object."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


def anchor_domain(chain_id: int, address: str) -> Domain:
    """The TraceAnchor domain (Reading, Commissioning, DeviceRegistration)."""
    return Domain(ANCHOR_DOMAIN_NAME, DOMAIN_VERSION, chain_id, address)


def anchor_domain_v2(chain_id: int, address: str) -> Domain:
    """The TraceAnchor v2 domain (the same types as v1, version "2")."""
    return Domain(ANCHOR_DOMAIN_NAME, ANCHOR_DOMAIN_VERSION_V2, chain_id, address)


def escrow_domain(chain_id: int, address: str) -> Domain:
    """The ShipmentEscrow domain (Terms, DeliveryAttestation)."""
    return Domain(ESCROW_DOMAIN_NAME, DOMAIN_VERSION, chain_id, address)


def escrow_domain_v2(chain_id: int, address: str) -> Domain:
    """The ShipmentEscrow v2 domain (TermsV2, DeliveryAttestationV2, MutualRelease)."""
    return Domain(ESCROW_DOMAIN_NAME, ESCROW_DOMAIN_VERSION_V2, chain_id, address)


@functools.lru_cache(maxsize=256)
def domain_separator(domain: Domain) -> bytes:
    """hashStruct(EIP712Domain), cached per domain."""
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH,
                keccak(domain.name.encode()),
                keccak(domain.version.encode()),
                domain.chain_id,
                domain.verifying_contract,
            ],
        )
    )


def _check_message(msg: object) -> Struct:
    if not isinstance(msg, MESSAGE_TYPES):
        raise Eip712Error(f"not a chaintrace EIP-712 message: {type(msg).__name__}")
    return msg


def _check_domain(domain: object) -> Domain:
    if not isinstance(domain, Domain):
        raise Eip712Error(f"not an EIP-712 Domain: {type(domain).__name__}")
    return domain


def typed_data(msg: Struct, domain: Domain) -> dict[str, Any]:
    """The full EIP-712 JSON (eth_signTypedData_v4) for wallets, firmware and eth-account."""
    msg = _check_message(msg)
    return {
        "types": {
            "EIP712Domain": list(_DOMAIN_FIELDS),
            msg.TYPE_NAME: [{"name": f.name, "type": f.sol_type} for f in msg.FIELDS],
        },
        "primaryType": msg.TYPE_NAME,
        "domain": _check_domain(domain).to_json(),
        "message": msg.to_json(),
    }


def struct_hash(msg: Struct) -> bytes:
    """hashStruct(msg) (no domain)."""
    return _check_message(msg).struct_hash()


def terms_hash(terms: Terms | TermsV2) -> bytes:
    """The `termsHash` the escrow stores: hashStruct(Terms) of either version."""
    if not isinstance(terms, Terms | TermsV2):
        raise Eip712Error(f"terms_hash needs Terms, got {type(terms).__name__}")
    return terms.struct_hash()


def digest(msg: Struct, domain: Domain) -> bytes:
    """keccak256(0x1901 || domainSeparator || hashStruct(msg)): what gets signed."""
    return keccak(b"\x19\x01" + domain_separator(_check_domain(domain)) + struct_hash(msg))


def reading_digest(reading: Reading, domain: Domain) -> bytes:
    """digest() for a Reading, packed by hand for the gateway's hot path."""
    if not isinstance(reading, Reading) or not isinstance(domain, Domain):
        raise Eip712Error("reading_digest needs a Reading and a Domain")
    r = reading
    # Every Reading field is a static type: its ABI word is the value as 32 big-endian bytes.
    encoded = b"".join(
        (
            Reading.TYPE_HASH,
            bytes(12) + bytes.fromhex(r.device[2:]),
            r.seq.to_bytes(32, "big"),
            r.taken_at_ms.to_bytes(32, "big"),
            r.temperature_centi_c.to_bytes(32, "big", signed=True),
            r.humidity_centi_pct.to_bytes(32, "big"),
            r.shock_milli_g.to_bytes(32, "big"),
            r.lat_e7.to_bytes(32, "big", signed=True),
            r.lon_e7.to_bytes(32, "big", signed=True),
        )
    )
    return keccak(b"\x19\x01" + domain_separator(domain) + keccak(encoded))


def sign(msg: Struct, domain: Domain, private_key: bytes | str) -> bytes:
    """65-byte r || s || v signature by eth-account over typed_data(msg, domain)."""
    signed = Account.sign_typed_data(private_key, full_message=typed_data(msg, domain))
    return bytes(signed.signature)


def recover(msg: Struct, domain: Domain, signature: bytes) -> str:
    """Checksummed address that signed typed_data(msg, domain)."""
    return recover_digest(digest(msg, domain), signature)
