"""The gateway over TLS: mqtts:// and GATEWAY_MQTT_CA_FILE against a private Mosquitto."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from device.client import SimulatedDevice
from device.mqtt_link import make_client, parse_mqtt_url
from iot_gateway.settings import GatewaySettings
from tests.iot_gateway.gateway_helpers import connected, reading_count, running_gateway, wait_for
from tests.utils.mosquitto import MosquittoBroker, TlsFiles, make_test_ca, start_private_broker


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, TlsFiles]]:
    """A private broker with a plain listener and a TLS one (certificate from a fresh CA)."""
    files = make_test_ca()
    try:
        broker = start_private_broker(tmp_path / "mosquitto", tls=files)
        try:
            yield broker, files
        finally:
            broker.stop()
    finally:
        shutil.rmtree(files.ca_file.parent, ignore_errors=True)


def test_gateway_over_mqtts_with_ca_file_stores_and_acks_a_reading(
    tls_broker: tuple[MosquittoBroker, TlsFiles],
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    register_device: Callable[..., SimulatedDevice],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker, files = tls_broker
    # The CA comes from the environment, as the gateway process reads it.
    monkeypatch.setenv("GATEWAY_MQTT_CA_FILE", str(files.ca_file))
    settings = make_settings(db_url, mqtt_url=broker.tls_url)
    assert settings.mqtt.tls and settings.mqtt_ca_file == str(files.ca_file)
    device = register_device()

    with running_gateway(settings), connected([device], broker.url) as (client,):
        _reading, payload = device.signed_payload(temperature_centi_c=450)
        client.publish(payload)
        # The ack goes out over the gateway's TLS connection.
        assert client.wait_acked(device.next_seq - 1, timeout=60), "no ack over TLS"
        wait_for(lambda: reading_count(db_sessions, device.address) == 1, "the stored reading")


def test_tls_listener_refuses_a_client_without_the_ca(
    tls_broker: tuple[MosquittoBroker, TlsFiles],
) -> None:
    broker, _files = tls_broker
    endpoint = parse_mqtt_url(broker.tls_url)
    # Without the test CA the server certificate does not verify: TLS is really in use.
    client = make_client(endpoint, "tls-no-ca", "5", ca_file=None)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.connect(endpoint.host, endpoint.port)
