"""docs/devices.md shows the numbers the code computes, and its payload passes the gateway."""

from __future__ import annotations

from pathlib import Path

from core.eip712 import anchor_domain
from device.example import EXAMPLE_ANCHOR, EXAMPLE_CHAIN_ID, worked_example
from iot_gateway.payload import DeviceStatus, PayloadLimits, parse_signed_reading

DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"


def test_every_worked_example_value_is_in_the_guide() -> None:
    text = DOC.read_text()
    missing = [name for name, value in worked_example().items() if value not in text]
    assert missing == []


def test_the_guides_wire_payload_is_accepted_and_recovers_the_device() -> None:
    example = worked_example()
    wire = next(line for line in DOC.read_text().splitlines() if line.startswith('{"device"'))
    signed = parse_signed_reading(
        wire.encode(),
        example["topic"],
        anchor_domain(EXAMPLE_CHAIN_ID, EXAMPLE_ANCHOR),
        lambda _address: DeviceStatus.ACTIVE,
        limits=PayloadLimits(),
        now_ms=1_767_225_600_000,
    )
    assert "0x" + signed.digest.hex() == example["digest"]
    assert signed.device == example["address"].lower()
