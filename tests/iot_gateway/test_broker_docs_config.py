"""The production broker of docs/devices.md, run verbatim (paths and port moved) with the gateway.

Before: the guide's mosquitto.conf did not start (a comment after `password_file` became part of
the file name); with that fixed, its ACL had no rule for the gateway's user, so the gateway got
no reading and could send no ack; and no `max_packet_size` (Mosquitto then takes 256 MB).
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain
from device.client import reading_payload
from device.mqtt_link import ack_payload, make_client, parse_mqtt_url
from iot_gateway.settings import GatewaySettings
from tests.iot_gateway.doc_broker import CONF, DocConfigBroker, doc_blocks, doc_broker, setting
from tests.iot_gateway.doc_broker import gateway_user as doc_gateway_user
from tests.iot_gateway.gateway_helpers import (
    DEADLINE_S,
    connected,
    reading_count,
    register_new_device,
    running_gateway,
    wait_for,
)
from tests.utils.mosquitto import TlsFiles, make_test_ca

NOT_AUTHORIZED = 135  # MQTT 5 reason codes
PACKET_TOO_LARGE = 149
GATEWAY_PASSWORD = "gw-" + secrets.token_hex(8)


class Session5:
    """One MQTT 5 connection: the PUBACK reason code of each publish, the topics it received."""

    def __init__(self, url: str, client_id: str) -> None:
        endpoint = parse_mqtt_url(url)
        self.client = make_client(endpoint, client_id, "5")
        self.codes: dict[int, int] = {}
        self.topics: list[str] = []
        self.disconnected = threading.Event()
        self.disconnect_reason: int | None = None
        self._changed = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, msg: self.topics.append(msg.topic)
        self.client.on_disconnect = self._on_disconnect
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        wait_for(self.client.is_connected, f"{client_id} to connect")

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._changed:
            self.codes[mid] = int(reason.value)
            self._changed.notify_all()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self.disconnected.is_set():
            self.disconnect_reason = int(reason.value)
            self.disconnected.set()

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and return the broker's PUBACK reason code."""
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._changed:
            assert self._changed.wait_for(lambda: mid in self.codes, DEADLINE_S), topic
            return self.codes[mid]

    def subscribe(self, *filters: str) -> None:
        """Subscribe (Mosquitto 2.0's acl_file grants every SUBSCRIBE; delivery is checked)."""
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert subscribed.wait(DEADLINE_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def tls() -> Iterator[TlsFiles]:
    """A test CA, trusted by this process as an OS trust store would hold a private CA."""
    files = make_test_ca()
    try:
        yield files
    finally:
        shutil.rmtree(files.ca_file.parent, ignore_errors=True)


@pytest.fixture
def gateway_settings(
    make_settings: Callable[..., GatewaySettings], sqlite_file_url: str, tls: TlsFiles
) -> Callable[[DocConfigBroker], GatewaySettings]:
    """The gateway as production runs it: the guide's user, TLS with the CA, a shared group."""

    def build(broker: DocConfigBroker) -> GatewaySettings:
        user = doc_gateway_user(broker.files.acl)
        return make_settings(
            sqlite_file_url,
            mqtt_url=broker.user_url(user, GATEWAY_PASSWORD),
            mqtt_ca_file=str(tls.ca_file),
            shared_group=secrets.token_hex(16),
        )

    return build


def _password() -> str:
    return secrets.token_hex(12)


def test_a_device_reading_is_stored_and_acked_and_no_device_can_write_elsewhere(
    tls: TlsFiles,
    sqlite_sessions: sessionmaker[Session],
    gateway_settings: Callable[[DocConfigBroker], GatewaySettings],
    domain: Domain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))  # the devices' trust store
    a, b = (register_new_device(sqlite_sessions, domain) for _ in range(2))
    pa, pb = _password(), _password()
    with doc_broker(tls, GATEWAY_PASSWORD, {a.address.lower(): pa}) as broker:
        # The guide's procedure for a new device on a running broker: its user, then a reload.
        broker.files.add_users(None, {b.address.lower(): pb})
        broker.reload()
        url_a, url_b = (
            broker.user_url(a.address.lower(), pa),
            broker.user_url(b.address.lower(), pb),
        )
        # Device a's credentials in another program: it listens to everything it can.
        thief = Session5(url_a, "thief-a")
        try:
            thief.subscribe("#", "$share/guess/chaintrace/v1/readings/+")
            with (
                running_gateway(gateway_settings(broker)) as gateway,
                connected([a], url_a) as (client_a,),
                connected([b], url_b) as (client_b,),
            ):
                # Published on its own topic, stored by the gateway, the ack back at the device.
                ra, _ = client_a.publish_reading(temperature_centi_c=450)
                rb, _ = client_b.publish_reading(temperature_centi_c=460)
                assert client_a.wait_acked(ra.seq, DEADLINE_S), "no ack for a"
                assert client_b.wait_acked(rb.seq, DEADLINE_S), "no ack for b"
                # b has two readings buffered, unsent; one more it signed is in a's hands.
                b1, b1_payload = b.signed_payload(temperature_centi_c=461)
                b.signed_payload(temperature_centi_c=462)
                stolen = b.make_reading(temperature_centi_c=-999)
                # a may write its own readings topic, and nothing else.
                own, own_payload = a.signed_payload(temperature_centi_c=451)
                assert thief.publish(a.topic, own_payload) == 0
                assert (
                    thief.publish(b.topic, reading_payload(stolen, b.sign(stolen)))
                    == NOT_AUTHORIZED
                )
                # An ack within what b has sent would empty its buffer of readings never stored.
                b_ack = ack_payload(b.address.lower(), b.next_seq - 2)
                assert thief.publish(b.ack_topic, b_ack) == NOT_AUTHORIZED
                a_ack = ack_payload(a.address.lower(), own.seq)
                assert thief.publish(a.ack_topic, a_ack) == NOT_AUTHORIZED
                # b sends its first buffered reading: acked after anything the broker took before.
                client_b.publish(b1_payload)
                assert client_b.wait_acked(b1.seq, DEADLINE_S)
                assert client_a.wait_acked(own.seq, DEADLINE_S)
                stats = gateway.metrics.snapshot()
        finally:
            thief.close()
    assert (b.acked_seq, [seq for seq, _ in b.unacked()]) == (b1.seq, [b1.seq + 1])
    assert b.ignored_acks == 0 and a.ignored_acks == 0
    assert reading_count(sqlite_sessions, b.address) == 2  # rb and b1, never the stolen one
    assert reading_count(sqlite_sessions, a.address) == 2
    assert stats["accepted"] == 4 and sum(stats["rejected"].values()) == 0
    # Its own acks only: no reading of anyone, no other device's ack.
    assert set(thief.topics) == {a.ack_topic}, thief.topics


def _payload_for_packet(topic: str, packet_size: int) -> bytes:
    """A payload making an MQTT 5 QoS 1 PUBLISH (no properties) of packet_size as Mosquitto 2.0
    counts it against max_packet_size: the first byte and the rest, not the length field itself."""
    header = 2 + len(topic.encode()) + 2 + 1  # topic length, topic, packet id, properties length
    return b"x" * (packet_size - 1 - header)


def test_max_packet_size_fits_the_largest_reading_and_refuses_more(
    tls: TlsFiles,
    sqlite_sessions: sessionmaker[Session],
    gateway_settings: Callable[[DocConfigBroker], GatewaySettings],
    domain: Domain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = doc_blocks()[CONF]
    limit = int(setting(conf, "max_packet_size"))
    largest = GatewaySettings.model_fields["max_payload_bytes"].default
    # The guide states the gateway's own limit it is sized from: they change together.
    assert f"GATEWAY_MAX_PAYLOAD_BYTES ({largest})" in conf
    assert limit == largest + 1024, (limit, largest)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    device = register_new_device(sqlite_sessions, domain)
    password = _password()
    with doc_broker(tls, GATEWAY_PASSWORD, {device.address.lower(): password}) as broker:
        url = broker.user_url(device.address.lower(), password)
        with (
            running_gateway(gateway_settings(broker)) as gateway,
            connected([device], url) as (client,),
        ):
            # The largest reading the gateway accepts: a signed one padded to its limit.
            reading, payload = device.signed_payload(temperature_centi_c=450)
            client.publish(payload + b" " * (largest - len(payload)))
            assert client.wait_acked(reading.seq, DEADLINE_S), "the largest reading was lost"
            sender = Session5(url, "big-sender")
            try:
                # A packet of exactly the limit passes the broker (the gateway: too large).
                at_limit = _payload_for_packet(device.topic, limit)
                assert sender.publish(device.topic, at_limit) == 0
                wait_for(
                    lambda: gateway.metrics.snapshot()["rejected"]["too_large"] == 1,
                    "the gateway to refuse the packet at the limit",
                )
                # One byte more: the broker drops the sender and the gateway never sees it.
                sender.client.publish(
                    device.topic, _payload_for_packet(device.topic, limit + 1), qos=1
                )
                assert sender.disconnected.wait(DEADLINE_S), "the broker took an oversized packet"
                assert sender.disconnect_reason == PACKET_TOO_LARGE
            finally:
                sender.close()
            after, _ = client.publish_reading(temperature_centi_c=451)
            assert client.wait_acked(after.seq, DEADLINE_S)
            stats = gateway.metrics.snapshot()
    assert stats["rejected"]["too_large"] == 1 and stats["accepted"] == 2
    assert reading_count(sqlite_sessions, device.address) == 2
