"""Helpers for gateway tests: wait for a condition, run a gateway, build a shipment."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from eth_account import Account
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Domain
from core.gs1 import check_digit
from device.client import DeviceClient, SimulatedDevice
from device.mqtt_link import make_client
from iot_gateway.gateway import Gateway
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.models import Brand, Device, Product, Reading, Role, Shipment, ShipmentStatus
from store.models.types import utcnow
from tests.utils.store_factories import make_item, make_principal, make_shipment

_counter = itertools.count(1)

# Generous deadlines: they only bound a hang, no test asserts on elapsed time.
DEADLINE_S = 60.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    """Poll until `condition()` is true; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running_gateway(settings: GatewaySettings) -> Iterator[Gateway]:
    """A started gateway whose subscription is active; stopped afterwards."""
    gateway = Gateway(settings)
    gateway.start()
    try:
        if not gateway.ready.wait(DEADLINE_S):
            raise AssertionError("gateway did not subscribe")
        yield gateway
    finally:
        gateway.stop()
        discard_session(settings)


def discard_session(settings: GatewaySettings) -> None:
    """Drop the gateway's persistent broker session (a shared broker keeps 3.1.1 ones forever)."""
    client = make_client(settings.mqtt, settings.client_id, settings.protocol)
    try:
        if settings.protocol == "5":
            client.connect(settings.mqtt.host, settings.mqtt.port, clean_start=True)
        else:
            client.connect(settings.mqtt.host, settings.mqtt.port)
    except OSError:
        return  # broker gone (a stopped private one): nothing left to clean
    client.loop_start()
    try:
        wait_for(client.is_connected, "the session-discarding connection", timeout=10)
    except AssertionError:
        pass  # best effort: the session then expires on its own (MQTT 5) or stays (3.1.1)
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def connected(devices: Sequence[SimulatedDevice], mqtt_url: str) -> Iterator[list[DeviceClient]]:
    """One connected DeviceClient per device (MQTT 5), closed afterwards."""
    from device.mqtt_link import parse_mqtt_url

    clients = [DeviceClient(d, parse_mqtt_url(mqtt_url)) for d in devices]
    try:
        for client in clients:
            client.connect(timeout=DEADLINE_S)  # its default, 10 s, is short on a loaded broker
        yield clients
    finally:
        for client in clients:
            client.close()


def register_new_device(
    sessions: sessionmaker[Session], domain: Domain, *, revoked: bool = False, start_seq: int = 0
) -> SimulatedDevice:
    """Register a device with a fresh key, owned by a fresh carrier; returns its simulator."""
    device = SimulatedDevice(Account.create().key, domain, start_seq=start_seq)
    with transaction(sessions) as session:
        owner = make_principal(session, Role.CARRIER)
        row = Device(address=device.address, owner_principal_id=owner.id, label="test")
        row.revoked_at = utcnow() if revoked else None
        session.add(row)
    return device


class HasAddress(Protocol):
    """Anything with a device address."""

    @property
    def address(self) -> str: ...


def shipment_with(
    sessions: sessionmaker[Session], devices: Sequence[HasAddress], items: int = 2
) -> int:
    """A shipment carrying `items` new items, watched by `devices`, on its way (its carrier, the
    devices' owner, recorded shipping: the gateway files their readings under it); its pk."""
    with transaction(sessions) as session:
        shipment = make_shipment(session)
        product = _product(session)
        shipment.items.extend(make_item(session, product) for _ in range(items))
        wanted = {d.address for d in devices}
        rows = session.scalars(select(Device).where(Device.address.in_(wanted))).all()
        shipment.devices.extend(rows)
        for row in rows:  # a carrier ships with its own devices
            row.owner_principal_id = shipment.carrier_principal_id
        shipment.status = ShipmentStatus.SHIPPING
        session.flush()
        return shipment.id


def _product(session: Session) -> Product:
    """A brand with a unique company prefix and one product with a valid GTIN under it."""
    n = next(_counter)
    prefix = f"{9_700_000 + n:07d}"
    brand = Brand(
        principal_id=make_principal(session, Role.BRAND).id, company_prefix=prefix, name="B"
    )
    session.add(brand)
    session.flush()
    body = "0" + prefix + "00042"
    product = Product(brand_id=brand.id, gtin=body + check_digit(body), name="Vaccine")
    session.add(product)
    session.flush()
    return product


def reading_count(sessions: sessionmaker[Session], device: str | None = None) -> int:
    """Stored readings (of one device, if given)."""
    stmt = select(func.count()).select_from(Reading)
    if device is not None:
        stmt = stmt.where(Reading.device_address == device)
    with sessions() as session:
        return int(session.scalar(stmt) or 0)


def shipment_status(sessions: sessionmaker[Session], shipment_pk: int) -> str:
    """The shipment's status value."""
    with sessions() as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        return shipment.status.value
