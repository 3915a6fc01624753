"""The MQTT wire of devices and gateway: topics, broker URLs, the paho-mqtt 2 client, the ack."""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

READINGS_PREFIX = "chaintrace/v1/readings/"
ACKS_PREFIX = "chaintrace/v1/acks/"

ProtocolName = Literal["5", "3.1.1"]

_LOGGER = logging.getLogger(__name__)


class MqttUrlError(ValueError):
    """An MQTT URL the gateway cannot use."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """A broker address with optional credentials; tls for mqtts://."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        # Never print the password (logs, tracebacks).
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username is not None else ""
        return f"MqttEndpoint({scheme}://{user}{self.host}:{self.port})"


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse mqtt://[user[:pass]@]host[:port] or mqtts://...; default ports 1883 / 8883."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MqttUrlError(f"invalid MQTT URL: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise MqttUrlError("MQTT URL scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise MqttUrlError("MQTT URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MqttUrlError("MQTT URL must not have a path, query or fragment")
    tls = parts.scheme in ("mqtts", "ssl")
    return MqttEndpoint(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def readings_topic(device: str) -> str:
    """The topic a device publishes its readings to (lowercase 0x address)."""
    return READINGS_PREFIX + device.lower()


def acks_topic(device: str) -> str:
    """The topic the gateway publishes a device's acks to."""
    return ACKS_PREFIX + device.lower()


def make_client(
    endpoint: MqttEndpoint,
    client_id: str,
    protocol: ProtocolName,
    *,
    persistent_session: bool = False,
    manual_ack: bool = False,
    ca_file: str | None = None,
) -> mqtt.Client:
    """A paho-mqtt 2 client (VERSION2 callbacks) with credentials and TLS from the endpoint."""
    if protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not persistent_session,
            manual_ack=manual_ack,
        )
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def ack_payload(device: str, seq: int) -> bytes:
    """The ack a device reads: {"device", "ackedSeq"} (compact JSON)."""
    return json.dumps({"device": device, "ackedSeq": seq}, separators=(",", ":")).encode()
