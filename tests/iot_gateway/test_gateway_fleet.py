"""scripts/simulate_fleet.py against a running gateway: readings stored, excursion visible."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from device.fleet import Excursion, fleet_keys
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.models import Device, Reading, Role
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID
from tests.iot_gateway.gateway_helpers import running_gateway
from tests.utils.store_factories import make_principal

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "simulate_fleet.py"


def test_excursion_window() -> None:
    excursion = Excursion(start_s=10, duration_s=5, delta_centi_c=600, devices=frozenset({1}))
    assert excursion.applies(1, 10) and excursion.applies(1, 14.9)
    assert not excursion.applies(1, 15) and not excursion.applies(1, 9.9)
    assert not excursion.applies(0, 12)
    assert Excursion(0, 1, 1).applies(7, 0.5)


def test_simulate_fleet_script_publishes_signed_readings(
    db_sessions: sessionmaker[Session],
    make_settings: Callable[..., GatewaySettings],
    db_url: str,
) -> None:
    seed = "fleet-test"
    addresses = [Account.from_key(k).address for k in fleet_keys(seed, 2)]
    with transaction(db_sessions) as session:
        owner = make_principal(session, Role.CARRIER)
        session.add_all(Device(address=a, owner_principal_id=owner.id) for a in addresses)
    settings = make_settings(db_url)
    with running_gateway(settings):
        done = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--mqtt-url",
                settings.mqtt_url,
                "--chain-id",
                str(CHAIN_ID),
                "--verifying-contract",
                ANCHOR,
                "--devices",
                "2",
                "--seed",
                seed,
                "--rate",
                "20",
                "--count",
                "6",
                "--excursion-start",
                "0",
                "--excursion-seconds",
                "1000",
                "--excursion-delta-c",
                "10",
                "--excursion-device",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    first, *_, last = done.stdout.strip().splitlines()
    assert json.loads(first) == {"devices": addresses}
    summary = json.loads(last)
    assert summary["published"] == 12 and summary["allAcked"] is True
    assert summary["ackedSeq"] == {a: 5 for a in addresses}
    with db_sessions() as session:
        temps = {
            a: session.scalars(
                select(Reading.temperature_centi_c).where(Reading.device_address == a)
            ).all()
            for a in addresses
        }
    assert len(temps[addresses[0]]) == len(temps[addresses[1]]) == 6
    assert all(380 <= t <= 420 for t in temps[addresses[0]])
    assert all(1380 <= t <= 1420 for t in temps[addresses[1]])


def test_simulate_fleet_script_reports_unreachable_broker() -> None:
    from tests.utils.mosquitto import free_port

    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--mqtt-url",
            f"mqtt://127.0.0.1:{free_port()}",
            "--chain-id",
            "1",
            "--verifying-contract",
            ANCHOR,
            "--count",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot connect" in done.stderr
