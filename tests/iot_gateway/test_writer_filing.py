"""Which shipment the gateway files a reading under: only one its device's carrier took on.

Issue 11's hijack: a buyer created a shipment naming another carrier and that carrier's loggers;
the gateway filed their readings under the newest open shipment, the stranger's, so the
carrier's real shipment lost them (and was attested with gaps).
"""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session, sessionmaker

from iot_gateway.writer import active_shipments
from store import transaction
from store.models import Device, Role, Shipment, ShipmentStatus
from tests.utils.store_factories import make_principal, make_shipment, random_address


def _shipment(
    session: Session, carrier_id: int, device: Device, status: ShipmentStatus
) -> Shipment:
    shipment = make_shipment(session)
    shipment.carrier_principal_id = carrier_id
    shipment.status = status
    shipment.devices.append(device)
    session.flush()
    return shipment


def test_a_strangers_shipment_naming_the_carriers_logger_gets_none_of_its_readings(
    db_sessions: sessionmaker[Session],
) -> None:
    with transaction(db_sessions) as session:
        carrier = make_principal(session, Role.CARRIER)
        carrier.wallet_address = random_address()
        device = Device(address=random_address(), owner_principal_id=carrier.id, label="logger")
        session.add(device)
        session.flush()
        real = _shipment(session, carrier.id, device, ShipmentStatus.SHIPPING)
        # Newer, signed by the buyer and a payee of its choosing, never by the carrier.
        hijack = _shipment(session, carrier.id, device, ShipmentStatus.FUNDED)
        hijack.buyer_signature = hijack.payee_signature = secrets.token_bytes(65)
        # Another carrier's shipment listing the logger (the API refuses it; the store may not).
        other = make_principal(session, Role.CARRIER)
        _shipment(session, other.id, device, ShipmentStatus.SHIPPING)
        address = device.address
        real_pk, hijack_pk = real.id, hijack.id
    with db_sessions() as session:
        assert active_shipments(session, [address]) == {address.lower(): real_pk}
    # Once the carrier signs the newer shipment's terms it takes the readings from then on.
    with transaction(db_sessions) as session:
        taken = session.get(Shipment, hijack_pk)
        assert taken is not None
        taken.carrier_signature = secrets.token_bytes(65)
    with db_sessions() as session:
        assert active_shipments(session, [address]) == {address.lower(): hijack_pk}
