"""Fixtures for the composition root's tests: a broker (MQTT_URL or a private Mosquitto)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.mosquitto import mqtt_broker_url


@pytest.fixture
def mqtt_url(tmp_path: Path) -> Iterator[str]:
    """MQTT_URL if set, else a private Mosquitto on a free port."""
    with mqtt_broker_url(tmp_path / "mosquitto") as url:
        yield url
