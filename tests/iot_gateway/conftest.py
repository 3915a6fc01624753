"""Fixtures for the gateway: a broker, the reading domain, device keys registered in the store."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain, anchor_domain
from device.client import SimulatedDevice
from iot_gateway.settings import GatewaySettings
from tests.iot_gateway.gateway_helpers import register_new_device
from tests.utils.mosquitto import mqtt_broker_url

CHAIN_ID = 31337
ANCHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def key_for(label: str) -> bytes:
    """A deterministic secp256k1 private key for a label."""
    return hashlib.sha256(f"chaintrace-gateway-test:{label}".encode()).digest()


@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MQTT_URL, or a private Mosquitto for this session."""
    with mqtt_broker_url(tmp_path_factory.mktemp("mosquitto")) as url:
        yield url


@pytest.fixture
def domain() -> Domain:
    """The TraceAnchor domain the test readings are signed under."""
    return anchor_domain(CHAIN_ID, ANCHOR)


@pytest.fixture
def make_settings(mqtt_url: str) -> Callable[..., GatewaySettings]:
    """GatewaySettings for a database, with a unique client id and short test intervals."""

    def build(database_url: str, **overrides: object) -> GatewaySettings:
        values: dict[str, object] = {
            "mqtt_url": mqtt_url,
            "database_url": database_url,
            "reading_chain_id": CHAIN_ID,
            "reading_verifying_contract": ANCHOR,
            "client_id": f"gw-test-{uuid.uuid4().hex[:12]}",
            # Test sessions should not outlive the test on a shared broker.
            "session_expiry_s": 30,
            "rollup_interval_s": 0.5,
            "registry_miss_reload_s": 0.0,
        }
        values.update(overrides)
        return GatewaySettings(**values)  # type: ignore[arg-type]

    return build


@pytest.fixture
def register_device(
    db_sessions: sessionmaker[Session], domain: Domain
) -> Callable[..., SimulatedDevice]:
    """Register a device with a fresh key (owned by a fresh carrier) and return its simulator."""

    def register(*, revoked: bool = False, start_seq: int = 0) -> SimulatedDevice:
        return register_new_device(db_sessions, domain, revoked=revoked, start_seq=start_seq)

    return register
