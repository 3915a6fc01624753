"""GatewaySettings from the environment, MQTT URLs, topics."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from device.mqtt_link import MqttUrlError, acks_topic, parse_mqtt_url, readings_topic
from iot_gateway.mqtt import subscription_filter
from iot_gateway.settings import GatewaySettings

ANCHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
REQUIRED = {
    "MQTT_URL": "mqtts://gw:s%40cret@broker.example:8884",
    "DATABASE_URL": "postgresql://u@db/chaintrace",
    "READING_CHAIN_ID": "8453",
    "READING_VERIFYING_CONTRACT": ANCHOR,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_settings_from_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("GATEWAY_PROTOCOL", "3.1.1")
    env.setenv("GATEWAY_CLIENT_ID", "gw-eu-1")
    env.setenv("GATEWAY_BATCH_SIZE", "250")
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert settings.reading_chain_id == 8453
    assert settings.protocol == "3.1.1" and settings.client_id == "gw-eu-1"
    assert settings.batch_size == 250 and settings.max_payload_bytes == 4096
    endpoint = settings.mqtt
    assert (endpoint.host, endpoint.port, endpoint.tls) == ("broker.example", 8884, True)
    assert (endpoint.username, endpoint.password) == ("gw", "s@cret")
    assert "s@cret" not in repr(endpoint) and "s@cret" not in repr(settings.mqtt)


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_required_settings(env: pytest.MonkeyPatch, missing: str) -> None:
    env.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        GatewaySettings()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("READING_VERIFYING_CONTRACT", "0x1234"),
        ("READING_CHAIN_ID", "0"),
        ("MQTT_URL", "http://broker:1883"),
        ("MQTT_URL", "mqtt://broker:99999"),
        ("GATEWAY_CLIENT_ID", "bad/id#"),
        ("GATEWAY_PROTOCOL", "3.1"),
        ("GATEWAY_MAX_PAYLOAD_BYTES", "10"),
    ],
)
def test_invalid_settings_are_refused(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ValidationError):
        GatewaySettings()  # type: ignore[call-arg]


def test_shared_subscriptions_need_mqtt5(env: pytest.MonkeyPatch) -> None:
    env.setenv("GATEWAY_SHARED_GROUP", "gateways")
    assert GatewaySettings().shared_group == "gateways"  # type: ignore[call-arg]
    env.setenv("GATEWAY_PROTOCOL", "3.1.1")
    with pytest.raises(ValidationError, match="MQTT 5"):
        GatewaySettings()  # type: ignore[call-arg]


def test_mqtt_urls() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1").port == 1883
    assert parse_mqtt_url("mqtts://h").port == 8883
    assert parse_mqtt_url("mqtt://u@h:1").username == "u"
    for bad in ("mqtt://", "ws://h", "mqtt://h/path", "mqtt://h?x=1", "mqtt://h:port"):
        with pytest.raises(MqttUrlError):
            parse_mqtt_url(bad)


def test_topics() -> None:
    device = "0x" + "Ab" * 20
    assert readings_topic(device) == "chaintrace/v1/readings/0x" + "ab" * 20
    assert acks_topic(device) == "chaintrace/v1/acks/0x" + "ab" * 20
    assert subscription_filter("3.1.1", None) == "chaintrace/v1/readings/+"
    assert subscription_filter("5", "g") == "$share/g/chaintrace/v1/readings/+"
    with pytest.raises(ValueError):
        subscription_filter("3.1.1", "g")
