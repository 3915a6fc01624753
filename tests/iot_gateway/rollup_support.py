"""Helpers shared by several test modules (a module named test_* holds only tests)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.models import Device, Role
from tests.iot_gateway.gateway_helpers import shipment_with
from tests.utils.store_factories import make_principal, random_address


class FakeDevice:
    """Just an address, for shipment_with (these tests insert rows directly)."""

    def __init__(self, address: str) -> None:
        self.address = address


def _setup(sessions: sessionmaker[Session], n_devices: int = 1) -> tuple[int, list[str]]:
    with transaction(sessions) as session:
        owner = make_principal(session, Role.CARRIER)
        addresses = []
        for _ in range(n_devices):
            device = Device(address=random_address(), owner_principal_id=owner.id)
            session.add(device)
            session.flush()
            addresses.append(device.address)
    shipment_pk = shipment_with(sessions, [FakeDevice(a) for a in addresses])
    return shipment_pk, addresses
