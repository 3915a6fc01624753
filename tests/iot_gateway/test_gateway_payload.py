"""Payload parsing: every reject reason, strict integers, boundary values, signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account

from core.eip712 import Domain, Reading, anchor_domain, reading_digest, sign
from core.signature import SECP256K1_N
from device.client import SimulatedDevice, reading_payload
from iot_gateway.payload import (
    INT_FIELDS,
    MAX_JSON_DEPTH,
    DeviceStatus,
    PayloadLimits,
    PayloadRejected,
    RejectReason,
    SignedReading,
    parse_signed_reading,
)
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID, key_for

NOW_MS = 1_750_000_000_000
LIMITS = PayloadLimits(max_bytes=4096, max_future_skew_ms=300_000)
KEY = key_for("payload")
ADDRESS = Account.from_key(KEY).address
TOPIC = "chaintrace/v1/readings/" + ADDRESS.lower()


def _domain() -> Domain:
    return anchor_domain(CHAIN_ID, ANCHOR)


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "device": ADDRESS.lower(),
        "seq": 7,
        "takenAtMs": NOW_MS - 1000,
        "temperatureCentiC": 450,
        "humidityCentiPct": 5500,
        "shockMilliG": 12,
        "latE7": 523_456_789,
        "lonE7": -134_567_890,
    }
    fields.update(overrides)
    return fields


def _signed(fields: dict[str, Any], key: bytes = KEY) -> dict[str, Any]:
    reading = Reading.from_json({**fields, "device": Account.from_key(key).address})
    return {**fields, "signature": "0x" + sign(reading, _domain(), key).hex()}


def _parse(
    body: dict[str, Any] | bytes,
    *,
    topic: str = TOPIC,
    status: DeviceStatus = DeviceStatus.ACTIVE,
    limits: PayloadLimits = LIMITS,
) -> SignedReading:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_signed_reading(
        payload, topic, _domain(), lambda _a: status, limits=limits, now_ms=NOW_MS
    )


def _reason(body: dict[str, Any] | bytes, **kwargs: Any) -> RejectReason:
    with pytest.raises(PayloadRejected) as info:
        _parse(body, **kwargs)
    return info.value.reason


def test_valid_reading_parses_to_signed_reading() -> None:
    parsed = _parse(_signed(_fields()))
    assert parsed.device == ADDRESS.lower()
    assert parsed.reading.seq == 7
    assert parsed.reading.lon_e7 == -134_567_890
    assert parsed.digest == reading_digest(parsed.reading, _domain())
    assert parsed.store_row(shipment_id=3)["shipment_id"] == 3


def test_simulated_device_payload_round_trips() -> None:
    device = SimulatedDevice(KEY, _domain(), start_seq=41, clock_ms=lambda: NOW_MS)
    reading, payload = device.signed_payload(temperature_centi_c=-1830, humidity_centi_pct=0)
    parsed = _parse(payload)
    assert parsed.reading == reading
    assert device.unacked() == [(41, payload)]
    assert device.handle_ack(json.dumps({"device": ADDRESS, "ackedSeq": 41}).encode()) == 41
    assert device.unacked() == []
    assert device.handle_ack(b"{not json") is None
    assert device.handle_ack(b'{"device": "0x00", "ackedSeq": 99}') is None


@pytest.mark.parametrize(
    "payload",
    [b"{", b"", b"\xff\xfe", b'{"seq": NaN}', b'{"a": 1, "a": 2}', b"[1,"],
    ids=["truncated", "empty", "not-utf8", "nan", "duplicate-key", "bad-array"],
)
def test_malformed_json(payload: bytes) -> None:
    assert _reason(payload) is RejectReason.MALFORMED_JSON


def test_too_large_is_checked_before_parsing() -> None:
    body = _signed(_fields())
    payload = json.dumps(body).encode()
    limits = PayloadLimits(max_bytes=len(payload), max_future_skew_ms=300_000)
    assert _parse(payload, limits=limits).reading.seq == 7
    assert _reason(payload + b" ", limits=limits) is RejectReason.TOO_LARGE
    assert _reason(b"{" * 5000) is RejectReason.TOO_LARGE


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def test_nesting_depth_is_bounded_before_parsing() -> None:
    # A reading is depth 1; up to MAX_JSON_DEPTH a nested value is parsed and is a wrong type.
    assert MAX_JSON_DEPTH < 16
    at_limit = {**_signed(_fields()), "seq": json.loads(_nested(MAX_JSON_DEPTH - 1))}
    assert _reason(at_limit) is RejectReason.WRONG_TYPE
    beyond = {**_signed(_fields()), "seq": json.loads(_nested(MAX_JSON_DEPTH))}
    assert _reason(beyond) is RejectReason.TOO_DEEP
    assert _reason(_nested(MAX_JSON_DEPTH + 1)) is RejectReason.TOO_DEEP
    # Deep enough that json.loads would take thousands of frames; the scan takes none.
    assert _reason(b"[" * 2000 + b"]" * 2000) is RejectReason.TOO_DEEP
    assert _reason(b'{"a":' * 600 + b"1" + b"}" * 600) is RejectReason.TOO_DEEP
    # Unbalanced (truncated) nesting is refused on its depth too, before any parsing.
    assert _reason(b"[" * 100) is RejectReason.TOO_DEEP
    # Brackets inside strings are data: a signature full of them is a wrong type, not deep.
    assert _reason({**_signed(_fields()), "signature": "[" * 200}) is RejectReason.WRONG_TYPE


def test_size_is_checked_before_depth() -> None:
    limits = PayloadLimits(max_bytes=1000, max_future_skew_ms=300_000)
    assert _reason(b"[" * 500 + b"]" * 500, limits=limits) is RejectReason.TOO_DEEP
    assert _reason(b"[" * 501 + b"]" * 501, limits=limits) is RejectReason.TOO_LARGE


@pytest.mark.parametrize("field", sorted(INT_FIELDS))
@pytest.mark.parametrize("value", [True, 1.0, "1", None, [1]], ids=repr)
def test_integers_are_strict(field: str, value: object) -> None:
    body = {**_signed(_fields()), field: value}
    assert _reason(body) is RejectReason.WRONG_TYPE


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "reading",
        {k: v for k, v in _fields().items() if k != "seq"},
        {**_fields(), "signature": "0x" + "11" * 65, "extra": 1},
        {**_fields(), "signature": "0x1234"},
        {**_fields(), "signature": 42},
        {**_fields(), "device": "0x1234", "signature": "0x" + "11" * 65},
        {**_fields(), "device": ADDRESS[2:], "signature": "0x" + "11" * 65},
    ],
    ids=["array", "string", "missing", "extra", "short-sig", "int-sig", "short-dev", "no-0x"],
)
def test_wrong_type(body: object) -> None:
    assert _reason(json.dumps(body).encode()) is RejectReason.WRONG_TYPE


def test_bad_device_checksum_is_wrong_type() -> None:
    mixed = ADDRESS[:2] + ADDRESS[2:].swapcase()
    assert mixed.lower() == ADDRESS.lower() and mixed != ADDRESS
    body = {**_signed(_fields()), "device": mixed}
    assert _reason(body) is RejectReason.WRONG_TYPE
    # The correct checksum form is accepted.
    assert _parse(_signed(_fields(device=ADDRESS))).device == ADDRESS.lower()


@pytest.mark.parametrize("field", sorted(INT_FIELDS))
def test_boundary_values_accepted_and_one_beyond_rejected(field: str) -> None:
    low, high = INT_FIELDS[field]
    if field == "takenAtMs":
        high = NOW_MS + LIMITS.max_future_skew_ms  # the clock bound is tighter than int64
    for value in (low, high):
        assert getattr(_parse(_signed(_fields(**{field: value}))).reading, _attr(field)) == value
    if field != "takenAtMs":
        assert _reason(_signed_unchecked(_fields(**{field: high + 1}))) is RejectReason.OUT_OF_RANGE
    assert _reason(_signed_unchecked(_fields(**{field: low - 1}))) is RejectReason.OUT_OF_RANGE


def _attr(field: str) -> str:
    return {
        "seq": "seq",
        "takenAtMs": "taken_at_ms",
        "temperatureCentiC": "temperature_centi_c",
        "humidityCentiPct": "humidity_centi_pct",
        "shockMilliG": "shock_milli_g",
        "latE7": "lat_e7",
        "lonE7": "lon_e7",
    }[field]


def _signed_unchecked(fields: dict[str, Any]) -> dict[str, Any]:
    # Values outside the Reading type cannot be signed; any signature-shaped string will do.
    return {**fields, "signature": "0x" + "11" * 65}


def test_int64_limit_on_uint64_fields() -> None:
    # uint64 in EIP-712, but stored as BIGINT: 2**63 is refused, not silently wrapped.
    assert _reason(_signed_unchecked(_fields(seq=2**63))) is RejectReason.OUT_OF_RANGE
    assert _parse(_signed(_fields(seq=2**63 - 1))).reading.seq == 2**63 - 1


def test_future_timestamp_boundary() -> None:
    edge = NOW_MS + LIMITS.max_future_skew_ms
    assert _parse(_signed(_fields(takenAtMs=edge))).reading.taken_at_ms == edge
    assert _reason(_signed(_fields(takenAtMs=edge + 1))) is RejectReason.FUTURE_TIMESTAMP


def test_topic_mismatch() -> None:
    body = _signed(_fields())
    other = Account.from_key(key_for("other")).address.lower()
    assert _reason(body, topic="chaintrace/v1/readings/" + other) is RejectReason.TOPIC_MISMATCH
    assert _reason(body, topic=TOPIC.upper()) is RejectReason.TOPIC_MISMATCH
    assert _reason(body, topic="chaintrace/v1/readings/" + ADDRESS) is RejectReason.TOPIC_MISMATCH
    assert _reason(body, topic="elsewhere/" + ADDRESS.lower()) is RejectReason.TOPIC_MISMATCH


def test_unknown_and_revoked_devices() -> None:
    body = _signed(_fields())
    assert _reason(body, status=DeviceStatus.UNKNOWN) is RejectReason.UNKNOWN_DEVICE
    assert _reason(body, status=DeviceStatus.REVOKED) is RejectReason.REVOKED_DEVICE


def test_signature_by_another_key_is_bad_signature() -> None:
    # Signed by another key over the same fields (device says ADDRESS).
    other_key = key_for("intruder")
    reading = Reading.from_json({**_fields(), "device": ADDRESS})
    forged = {**_fields(), "signature": "0x" + sign(reading, _domain(), other_key).hex()}
    assert _reason(forged) is RejectReason.BAD_SIGNATURE


def test_signature_over_other_values_or_domain_is_bad_signature() -> None:
    body = _signed(_fields())
    assert _reason({**body, "temperatureCentiC": 451}) is RejectReason.BAD_SIGNATURE
    other_domain = anchor_domain(CHAIN_ID + 1, ANCHOR)
    reading = Reading.from_json({**_fields(), "device": ADDRESS})
    wrong = {**_fields(), "signature": "0x" + sign(reading, other_domain, KEY).hex()}
    assert _reason(wrong) is RejectReason.BAD_SIGNATURE


def test_malleable_and_odd_signatures_are_bad_signature() -> None:
    body = _signed(_fields())
    sig = bytes.fromhex(body["signature"][2:])
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    assert _reason({**body, "signature": "0x" + high_s.hex()}) is RejectReason.BAD_SIGNATURE
    v_raw = sig[:64] + bytes([v - 27])
    assert _reason({**body, "signature": "0x" + v_raw.hex()}) is RejectReason.BAD_SIGNATURE
    zero = "0x" + "00" * 64 + "1b"
    assert _reason({**body, "signature": zero}) is RejectReason.BAD_SIGNATURE


def test_checks_run_in_order_cheapest_first() -> None:
    # A forged signature from an unknown device is reported as unknown: no ECDSA work spent.
    forged = {**_fields(), "signature": "0x" + "11" * 65}
    assert _reason(forged, status=DeviceStatus.UNKNOWN) is RejectReason.UNKNOWN_DEVICE
    # Range errors are found before the topic is even looked at.
    assert _reason(_signed_unchecked(_fields(humidityCentiPct=10_001)), topic="x") is (
        RejectReason.OUT_OF_RANGE
    )


def test_reading_payload_matches_wire_format() -> None:
    device = SimulatedDevice(KEY, _domain(), clock_ms=lambda: NOW_MS)
    reading = device.make_reading(temperature_centi_c=5)
    data = json.loads(reading_payload(reading, device.sign(reading)))
    assert set(data) == {*INT_FIELDS, "device", "signature"}
    assert data["device"] == ADDRESS.lower()
    assert isinstance(data["seq"], int) and len(data["signature"]) == 132
