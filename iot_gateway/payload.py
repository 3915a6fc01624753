"""MQTT reading payloads: bytes -> validated, signature-checked SignedReading, or a reject."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.eip712 import Domain, Reading, reading_digest
from core.errors import CoreValueError
from core.json_bounds import JsonTooDeepError, JsonTooLargeError, check_json_bounds
from core.signature import recover_digest_raw
from device.mqtt_link import READINGS_PREFIX

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SIGNATURE_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_INT64_MAX = 2**63 - 1
# A reading is one flat object (depth 1). Anything nested deeper than this is refused as
# too_deep before json.loads sees it: the verifier's interpreter has py_ecc's recursion limit
# (100,000), so a few hundred KB of '[' would overflow the C stack in the parser (a segfault).
# Depths 2..MAX_JSON_DEPTH are parsed and refused as wrong_type like any other misshapen body.
MAX_JSON_DEPTH = 8

# JSON field -> (min, max). seq and takenAtMs are uint64 in EIP-712 but stored as BIGINT;
# humidity, latitude and longitude are held to their physical ranges.
INT_FIELDS: dict[str, tuple[int, int]] = {
    "seq": (0, _INT64_MAX),
    "takenAtMs": (0, _INT64_MAX),
    "temperatureCentiC": (-27315, 2**31 - 1),
    "humidityCentiPct": (0, 10_000),
    "shockMilliG": (0, 2**32 - 1),
    "latE7": (-900_000_000, 900_000_000),
    "lonE7": (-1_800_000_000, 1_800_000_000),
}
FIELDS = frozenset({"device", "signature", *INT_FIELDS})


class RejectReason(enum.StrEnum):
    """Why a message was not stored; the label of the rejected counter."""

    MALFORMED_JSON = "malformed_json"
    TOO_LARGE = "too_large"
    # Arrays/objects nested deeper than MAX_JSON_DEPTH: refused before parsing.
    TOO_DEEP = "too_deep"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOPIC_MISMATCH = "topic_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    REVOKED_DEVICE = "revoked_device"
    BAD_SIGNATURE = "bad_signature"
    # Valid signature, but the (device, seq) is stored with another digest: a device (or its
    # stolen key) signed two different readings under one seq.
    EQUIVOCATION = "equivocation"
    # Passed every check above but the database refused the row (a bug, kept for inspection).
    STORE_REFUSED = "store_refused"
    # The gateway itself failed on the message (a bug): kept, so nothing vanishes silently.
    INTERNAL_ERROR = "internal_error"


class DeviceStatus(enum.Enum):
    """A device's standing in the registry."""

    ACTIVE = "active"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


DeviceLookup = Callable[[str], DeviceStatus]
# (address, signed takenAtMs) -> True when a revoked device's reading is backlog still accepted:
# taken before the revocation and arriving within the grace period after it (registry.py).
BacklogCheck = Callable[[str, int], bool]


def no_backlog(_address: str, _taken_at_ms: int) -> bool:
    """The BacklogCheck that accepts nothing from a revoked device."""
    return False


class PayloadRejected(ValueError):
    """A message that cannot be stored; `reason` is the counter label, `detail` for the log."""

    def __init__(
        self,
        reason: RejectReason,
        detail: str,
        *,
        device: str | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        # What the message claimed, when it got that far: for the dead-letter row.
        self.device = device
        self.seq = seq


@dataclass(frozen=True, slots=True)
class PayloadLimits:
    """Size, nesting and clock limits applied before any cryptography."""

    max_bytes: int = 4096
    max_future_skew_ms: int = 300_000
    max_depth: int = MAX_JSON_DEPTH


@dataclass(frozen=True, slots=True)
class UnverifiedReading:
    """A well-formed reading whose signature and device have not been checked yet."""

    reading: Reading
    signature: bytes
    digest: bytes
    topic_device: str


@dataclass(frozen=True, slots=True)
class SignedReading:
    """A reading signed by its device's key, from a registered, unrevoked device."""

    reading: Reading
    signature: bytes
    digest: bytes
    topic_device: str

    @property
    def device(self) -> str:
        """The device address, lowercase 0x-hex."""
        return self.topic_device

    def store_row(self, shipment_id: int | None = None) -> dict[str, Any]:
        """The row store.insert_readings takes."""
        r = self.reading
        return {
            "device_address": r.device,
            "seq": r.seq,
            "taken_at_ms": r.taken_at_ms,
            "temperature_centi_c": r.temperature_centi_c,
            "humidity_centi_pct": r.humidity_centi_pct,
            "shock_milli_g": r.shock_milli_g,
            "lat_e7": r.lat_e7,
            "lon_e7": r.lon_e7,
            "signature": self.signature,
            "digest": self.digest,
            "shipment_id": shipment_id,
        }


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # json.loads would keep the last one silently: ambiguous input is refused.
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _load_object(payload: bytes, limits: PayloadLimits) -> dict[str, Any]:
    # Size, then depth (an iterative scan), both before the recursive parser runs.
    try:
        check_json_bounds(payload, max_bytes=limits.max_bytes, max_depth=limits.max_depth)
    except JsonTooLargeError:
        raise PayloadRejected(
            RejectReason.TOO_LARGE, f"{len(payload)} bytes > {limits.max_bytes}"
        ) from None
    except JsonTooDeepError:
        raise PayloadRejected(
            RejectReason.TOO_DEEP, f"JSON nested deeper than {limits.max_depth} levels"
        ) from None
    try:
        text = payload.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PayloadRejected(RejectReason.MALFORMED_JSON, str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise PayloadRejected(RejectReason.WRONG_TYPE, "payload is not a JSON object")
    return data


def _check_fields(data: dict[str, Any]) -> None:
    missing = sorted(FIELDS - data.keys())
    if missing:
        raise PayloadRejected(RejectReason.WRONG_TYPE, f"missing fields {missing}")
    extra = sorted(data.keys() - FIELDS)
    if extra:
        raise PayloadRejected(RejectReason.WRONG_TYPE, f"unexpected fields {extra[:5]}")
    for name, (low, high) in INT_FIELDS.items():
        value = data[name]
        # bool is an int in Python, and 1.0 is not an integer on the wire: both refused.
        if isinstance(value, bool) or not isinstance(value, int):
            raise PayloadRejected(RejectReason.WRONG_TYPE, f"{name} must be a JSON integer")
        if not low <= value <= high:
            raise PayloadRejected(
                RejectReason.OUT_OF_RANGE, f"{name}={value} outside [{low}, {high}]"
            )
    for name, pattern in (("device", _ADDRESS_RE), ("signature", _SIGNATURE_RE)):
        value = data[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise PayloadRejected(RejectReason.WRONG_TYPE, f"{name} must be 0x-hex of its size")


def _topic_device(topic: str) -> str:
    if not topic.startswith(READINGS_PREFIX):
        raise PayloadRejected(RejectReason.TOPIC_MISMATCH, f"not a readings topic: {topic!r}")
    device = topic[len(READINGS_PREFIX) :]
    if not _ADDRESS_RE.fullmatch(device) or device != device.lower():
        raise PayloadRejected(
            RejectReason.TOPIC_MISMATCH, "topic must end in a lowercase 0x address"
        )
    return device


def decode_reading(
    payload: bytes, topic: str, domain: Domain, *, limits: PayloadLimits, now_ms: int
) -> UnverifiedReading:
    """Check size, JSON shape, strict integer ranges, clock skew and topic; compute the digest."""
    try:
        data = _load_object(payload, limits)
    except PayloadRejected as exc:
        exc.device = _topic_tail(topic)  # unreadable bytes: the topic is all that names a device
        raise
    try:
        return _decode_object(data, topic, domain, limits, now_ms)
    except PayloadRejected as exc:
        device, seq = data.get("device"), data.get("seq")
        exc.device = device if isinstance(device, str) else _topic_tail(topic)
        exc.seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        raise


def _topic_tail(topic: str) -> str | None:
    return topic[len(READINGS_PREFIX) :] if topic.startswith(READINGS_PREFIX) else None


def _decode_object(
    data: dict[str, Any], topic: str, domain: Domain, limits: PayloadLimits, now_ms: int
) -> UnverifiedReading:
    _check_fields(data)
    if data["takenAtMs"] > now_ms + limits.max_future_skew_ms:
        raise PayloadRejected(
            RejectReason.FUTURE_TIMESTAMP,
            f"takenAtMs {data['takenAtMs']} is {data['takenAtMs'] - now_ms} ms ahead",
        )
    topic_device = _topic_device(topic)
    if data["device"].lower() != topic_device:
        raise PayloadRejected(RejectReason.TOPIC_MISMATCH, "payload device differs from topic")
    try:
        reading = Reading(
            device=data["device"],
            seq=data["seq"],
            taken_at_ms=data["takenAtMs"],
            temperature_centi_c=data["temperatureCentiC"],
            humidity_centi_pct=data["humidityCentiPct"],
            shock_milli_g=data["shockMilliG"],
            lat_e7=data["latE7"],
            lon_e7=data["lonE7"],
        )
        digest = reading_digest(reading, domain)
    except CoreValueError as exc:
        # Ranges were checked above: what is left is a malformed value (e.g. a bad checksum).
        raise PayloadRejected(RejectReason.WRONG_TYPE, str(exc)[:200]) from None
    return UnverifiedReading(reading, bytes.fromhex(data["signature"][2:]), digest, topic_device)


def _check_signer(candidate: UnverifiedReading, signer: bytes | None, error: str | None) -> None:
    if signer is None:
        raise PayloadRejected(RejectReason.BAD_SIGNATURE, error or "no signer recovered")
    # Bytes against bytes: no checksummed text per message on the hot path.
    if signer != bytes.fromhex(candidate.topic_device[2:]):
        raise PayloadRejected(RejectReason.BAD_SIGNATURE, "signer is not the device")


def check_signature(candidate: UnverifiedReading) -> None:
    """Raise bad_signature unless the r||s||v signature (v 27/28, low s) recovers to the device."""
    try:
        signer = recover_digest_raw(candidate.digest, candidate.signature)
    except CoreValueError as exc:
        raise PayloadRejected(RejectReason.BAD_SIGNATURE, str(exc)[:200]) from None
    _check_signer(candidate, signer, None)


def _signed(candidate: UnverifiedReading) -> SignedReading:
    return SignedReading(
        candidate.reading, candidate.signature, candidate.digest, candidate.topic_device
    )


def authenticate(
    candidate: UnverifiedReading, lookup: DeviceLookup, backlog: BacklogCheck = no_backlog
) -> SignedReading:
    """Registry check first (cheap, no ECDSA for unknown senders), then the signature.

    A revoked device's reading passes the registry check only if `backlog` accepts its signed
    takenAtMs (taken before the revocation, arriving within the grace period after it).
    """
    status = lookup(candidate.topic_device)
    try:
        if status is DeviceStatus.UNKNOWN:
            raise PayloadRejected(RejectReason.UNKNOWN_DEVICE, "device not registered")
        if status is DeviceStatus.REVOKED and not backlog(
            candidate.topic_device, candidate.reading.taken_at_ms
        ):
            raise PayloadRejected(
                RejectReason.REVOKED_DEVICE,
                "device revoked (reading taken at or after the revocation, or backlog too late)",
            )
        check_signature(candidate)
    except PayloadRejected as exc:
        exc.device, exc.seq = candidate.topic_device, candidate.reading.seq
        raise
    return _signed(candidate)


def authenticate_recovered(
    candidate: UnverifiedReading, signer: bytes | None, error: str | None
) -> SignedReading:
    """authenticate() for an active device whose signer (or recovery error) came from a worker."""
    try:
        _check_signer(candidate, signer, error)
    except PayloadRejected as exc:
        exc.device, exc.seq = candidate.topic_device, candidate.reading.seq
        raise
    return _signed(candidate)


def parse_signed_reading(
    payload: bytes,
    topic: str,
    domain: Domain,
    lookup: DeviceLookup,
    *,
    limits: PayloadLimits,
    now_ms: int,
) -> SignedReading:
    """decode_reading then authenticate; raises PayloadRejected with the first reason found."""
    return authenticate(
        decode_reading(payload, topic, domain, limits=limits, now_ms=now_ms), lookup
    )
