"""Devices trust only acks they can have earned: a forged ackedSeq never empties the buffer.

Before: one ack of a seq far beyond anything the device had sent deleted every unacked reading
from its store-and-forward buffer, so readings the gateway never stored were never resent.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import anchor_domain
from device.client import SimulatedDevice
from device.fleet import Fleet
from device.mqtt_link import parse_mqtt_url
from iot_gateway.settings import GatewaySettings
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID, key_for
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    running_gateway,
    wait_for,
)

DOMAIN = anchor_domain(CHAIN_ID, ANCHOR)


def _ack(device: SimulatedDevice, seq: object) -> bytes:
    return json.dumps({"device": device.address.lower(), "ackedSeq": seq}).encode()


def test_an_ack_beyond_the_highest_seq_sent_is_ignored() -> None:
    device = SimulatedDevice(key_for("acks"), DOMAIN, start_seq=5)
    for _ in range(3):
        device.signed_payload(temperature_centi_c=400)  # seqs 5, 6, 7
    for forged in (8, 10**12, 2**63 - 1, -1):
        assert device.handle_ack(_ack(device, forged)) is None
    assert [seq for seq, _ in device.unacked()] == [5, 6, 7]
    assert device.acked_seq is None
    assert device.ignored_acks == 4
    # A real ack still works, and an older one never moves the position back.
    assert device.handle_ack(_ack(device, 6)) == 6
    assert device.handle_ack(_ack(device, 5)) == 5
    assert (device.acked_seq, [seq for seq, _ in device.unacked()]) == (6, [7])
    assert device.handle_ack(_ack(device, 7)) == 7
    assert device.unacked() == []
    # Malformed acks are ignored and counted too, however deep their nesting.
    for junk in (b"{", b"[" * 100_000 + b"]" * 100_000, _ack(device, "7"), b'{"ackedSeq": 7}'):
        assert device.handle_ack(junk) is None
    assert device.ignored_acks == 8


def test_a_fresh_device_ignores_any_ack() -> None:
    device = SimulatedDevice(key_for("acks-fresh"), DOMAIN)
    assert device.handle_ack(_ack(device, 0)) is None
    assert device.acked_seq is None and device.ignored_acks == 1


def test_fleet_counts_the_acks_its_devices_ignored() -> None:
    keys = [key_for(f"acks-fleet-{i}") for i in range(2)]
    fleet = Fleet(keys, DOMAIN, parse_mqtt_url("mqtt://127.0.0.1:1"))
    first = fleet.clients[0].device
    first.signed_payload(temperature_centi_c=400)
    assert first.handle_ack(_ack(first, 99)) is None
    assert fleet.ignored_acks == 1
    assert len(first.unacked()) == 1


def test_a_forged_ack_over_the_broker_loses_nothing(
    register_device: Callable[..., SimulatedDevice],
    make_settings: Callable[..., GatewaySettings],
    db_sessions: sessionmaker[Session],
    db_url: str,
    mqtt_url: str,
) -> None:
    device = register_device()
    endpoint = parse_mqtt_url(mqtt_url)
    forger = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    with connected([device], mqtt_url) as (client,):
        # No gateway is listening: these readings reach no one and wait in the device's buffer.
        sent = [client.publish_reading(temperature_centi_c=400 + i)[0] for i in range(3)]
        forger.connect(endpoint.host, endpoint.port)
        forger.loop_start()
        try:
            forger.publish(device.ack_topic, _ack(device, 10**9), qos=1).wait_for_publish(
                DEADLINE_S
            )
            wait_for(
                lambda: device.ignored_acks > 0 or device.acked_seq is not None,
                "the device to receive the forged ack",
            )
        finally:
            forger.disconnect()
            forger.loop_stop()
        assert device.acked_seq is None
        assert [seq for seq, _ in device.unacked()] == [r.seq for r in sent]
        settings = make_settings(db_url)
        with running_gateway(settings):
            # Store-and-forward: the buffer is resent and every reading is stored.
            assert client.resend_unacked() == 3
            assert client.wait_acked(sent[-1].seq, timeout=DEADLINE_S)
    assert device.unacked() == []
    assert reading_count(db_sessions, device.address) == 3
