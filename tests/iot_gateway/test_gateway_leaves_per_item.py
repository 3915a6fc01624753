"""Kind 2 leaves per item per shipment (DESIGN.md "Public and private views"): a 1,000-item
shipment watched by 2 loggers for 3 days costs each item a handful of public projections, not
one per sensor window, because its windows name the shipment's container.

The shipment's steps go through api.shipment_recording.record_on_shipment (what POST
/shipments/{id}/events and the EPCIS capture call), its readings through the gateway's real
roll-up (iot_gateway.rollup.rollup_once, the default window rule) over stored readings. The
kind 2 leaves are counted in the leaves table, per EPC, as recording made them.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.catalog import epc_of
from api.shipment_recording import record_on_shipment
from core.epcis.events import CONTAINER_PREFIX, iso_ms, to_ms
from core.gs1 import check_digit
from iot_gateway.rollup import rollup_once
from iot_gateway.settings import GatewaySettings
from store.db import transaction
from store.models import Brand, Device, Item, Leaf, Product, Role, Shipment, ShipmentStatus
from store.models.events import MEMBER_KIND
from store.models.types import utcnow
from store.readings import insert_readings
from tests.utils.store_factories import make_principal, make_shipment, random_address
from tests.utils.store_factories import reading_row as base_row

MINUTE = 60_000
DAYS, LOGGERS, ITEMS = 3, 2, 1_000
TARGET = 5  # leaves per item per shipment (issue 16)
SGLN = "urn:epc:id:sgln:0614141.00001.0"
_prefixes = itertools.count(9_800_000)


def _shipment(sessions: sessionmaker[Session], items: int, container: str | None) -> int:
    """A funded shipment of `items` new items and LOGGERS devices of its carrier; its pk."""
    with transaction(sessions) as session:
        shipment = make_shipment(session)
        shipment.container_epc = container
        shipment.custody_required = False
        shipment.status = ShipmentStatus.FUNDED
        prefix = f"{next(_prefixes):07d}"
        brand = Brand(
            principal_id=make_principal(session, Role.BRAND).id, company_prefix=prefix, name="B"
        )
        session.add(brand)
        session.flush()
        body = "0" + prefix + "00042"
        product = Product(brand_id=brand.id, gtin=body + check_digit(body), name="Vaccine")
        session.add(product)
        session.flush()
        made = [Item(product_id=product.id, serial=f"S{n}") for n in range(items)]
        session.add_all(made)
        shipment.items.extend(made)
        for _ in range(LOGGERS):
            device = Device(
                address=random_address(), owner_principal_id=shipment.carrier_principal_id
            )
            session.add(device)
            shipment.devices.append(device)
        session.flush()
        return shipment.id


def _step(sessions: sessionmaker[Session], shipment_pk: int, body: dict[str, str]) -> None:
    """Record a step as its party would (the carrier ships and arrives, the consignee receives)."""
    with transaction(sessions) as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        party = shipment.consignee if body["bizStep"] == "receiving" else shipment.carrier
        record_on_shipment(session, party, shipment, body, max_backdate=timedelta(days=DAYS + 1))


def _journey(
    sessions: sessionmaker[Session], settings: GatewaySettings, shipment_pk: int
) -> tuple[list[str], int]:
    """Ship DAYS ago, log a reading a minute per logger since, roll them up, arrive and receive;
    the items' EPCs and how many windows were recorded."""
    now = utcnow().replace(microsecond=0)
    shipped = now - timedelta(days=DAYS)
    readings = DAYS * 24 * 60
    with transaction(sessions) as session:
        shipment = session.get(Shipment, shipment_pk)
        assert shipment is not None
        epcs = [epc_of(item) for item in shipment.items]
        addresses = [d.address for d in shipment.devices]
        start = to_ms(shipped)
        for address in addresses:  # unfiled until the carrier records shipping
            rows = [
                base_row(address, seq, taken_at_ms=start + seq * MINUTE) for seq in range(readings)
            ]
            insert_readings(session, rows)
    _step(
        sessions,
        shipment_pk,
        {"bizStep": "shipping", "eventTime": iso_ms(shipped), "readPoint": SGLN},
    )
    windows = 0
    while recorded := rollup_once(sessions, settings, now_ms=to_ms(now)):
        windows += recorded
    _step(
        sessions,
        shipment_pk,
        {"bizStep": "arriving", "eventTime": iso_ms(now - timedelta(minutes=1))},
    )
    _step(sessions, shipment_pk, {"bizStep": "receiving", "eventTime": iso_ms(now)})
    return epcs, windows


def _leaves(sessions: sessionmaker[Session]) -> Counter[str]:
    """Kind 2 leaves per EPC, as stored."""
    with sessions() as session:
        rows = session.execute(
            select(Leaf.epc, func.count()).where(Leaf.kind == MEMBER_KIND).group_by(Leaf.epc)
        )
        return Counter({str(epc): int(n) for epc, n in rows})


# One dialect: the count does not depend on it, and the journey stores 864 windows twice.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_item_costs_at_most_five_leaves_per_shipment_with_a_container(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url)  # the gateway's default window rule
    container = CONTAINER_PREFIX + "6c1f0a9e-2b7d-4c3e-8f5a-1d2e3f4a5b6c"
    packed = _shipment(db_sessions, ITEMS, container)
    epcs, windows = _journey(db_sessions, settings, packed)
    counts = _leaves(db_sessions)
    per_item = [counts[epc] for epc in epcs]
    print(
        f"\nwith a container: {ITEMS} items, {DAYS} days, {LOGGERS} loggers, {windows} windows "
        f"(rule {settings.window_readings} readings / {settings.window_seconds} s, "
        f"a reading a minute): leaves per item min {min(per_item)} max {max(per_item)}, "
        f"container {counts[container]}"
    )
    assert windows >= LOGGERS * DAYS * 24 * 60 // settings.window_readings
    assert max(per_item) <= TARGET
    assert min(per_item) == max(per_item) == 3 + 1  # shipping, arriving, receiving + packing
    # The container's own leaves: one per window (a packing's parentID is not projected).
    assert counts[container] == windows

    # The same journey for a shipment created before containers: every window names every item.
    old_epcs, old_windows = _journey(db_sessions, settings, _shipment(db_sessions, 10, None))
    counts = _leaves(db_sessions)
    old = [counts[epc] for epc in old_epcs]
    print(f"without a container: leaves per item min {min(old)} max {max(old)}")
    assert min(old) == old_windows + 3 > TARGET
