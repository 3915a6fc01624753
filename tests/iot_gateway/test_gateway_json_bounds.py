"""Deeply nested JSON through a real broker into a real gateway process: refused, not a crash.

The verifier's interpreter carries py_ecc's recursion limit (100,000), so `json.loads` of a
few hundred KB of '[' overflows the C stack (a segfault: the verifier dies, the batch is
verified again inline, and the gateway process dies too). The depth is now checked before
parsing: the payloads are counted as too_deep, dead-lettered (truncated), and a valid reading
sent after them is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from device.client import SimulatedDevice
from iot_gateway.payload import MAX_JSON_DEPTH
from store.dead_letters import MAX_PAYLOAD_BYTES, list_dead_letters
from tests.iot_gateway.gateway_helpers import DEADLINE_S, connected, reading_count, wait_for
from tests.iot_gateway.gateway_process_helpers import REPO, gateway_process

MAX_PAYLOAD = 1_048_576
# ~198 KB and ~1 MB of nesting, both under GATEWAY_MAX_PAYLOAD_BYTES: only the depth refuses them.
DEPTHS = (99_000, 500_000)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_deep_payloads_are_refused_and_the_gateway_keeps_storing(
    register_device: Callable[..., SimulatedDevice],
    db_sessions: sessionmaker[Session],
    db_url: str,
    mqtt_url: str,
    tmp_path: Path,
) -> None:
    device = register_device()
    payloads = [_nested(depth) for depth in DEPTHS]
    assert [len(p) for p in payloads] == [198_000, 1_000_000]
    assert all(len(p) <= MAX_PAYLOAD for p in payloads)
    rejected = "chaintrace_gateway_readings_rejected_total{reason=too_deep}"
    with (
        gateway_process(
            db_url,
            mqtt_url,
            tmp_path / "gateway.log",
            GATEWAY_MAX_PAYLOAD_BYTES=str(MAX_PAYLOAD),
            # Explicit: the default depends on the machine's cores (0 verifies inline).
            GATEWAY_VERIFY_PROCESSES="1",
        ) as gateway,
        connected([device], mqtt_url) as (client,),
    ):
        for payload in payloads:
            client.publish(payload).wait_for_publish(DEADLINE_S)
        wait_for(lambda: gateway.metric(rejected) == len(payloads), "the deep payloads refused")
        valid, _info = client.publish_reading(temperature_centi_c=480)
        assert client.wait_acked(valid.seq, timeout=DEADLINE_S), gateway.log_tail()
        assert gateway.metric("chaintrace_gateway_readings_accepted_total") == 1
        assert gateway.metric(rejected) == len(payloads)
        assert gateway.stop() == 0, gateway.log_tail()
    assert reading_count(db_sessions, device.address) == 1
    with db_sessions() as session:
        letters = list_dead_letters(session, reason="too_deep")
    assert sorted(letter.payload_size for letter in letters) == [len(p) for p in payloads]
    assert all(letter.payload == b"[" * MAX_PAYLOAD_BYTES for letter in letters)
    assert all(letter.topic == device.topic for letter in letters)
    assert all(letter.device_address == device.address for letter in letters)


def test_the_guide_states_the_depth_limit() -> None:
    text = (REPO / "docs" / "devices.md").read_text()
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in text
