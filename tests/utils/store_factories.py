"""Factories for store tests: principals, catalogue rows, events, readings, shipments."""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

from sqlalchemy.orm import Session

from core.epcis.hashed_event import HashedEvent
from store.models import Brand, Device, Event, Item, Principal, Product, Role, Shipment
from store.principals import create_principal
from store.recording import record_event

_counter = itertools.count(1)


def random_address() -> str:
    """A random 20-byte address, lowercase hex (the store checksums it)."""
    return "0x" + secrets.token_hex(20)


def make_principal(session: Session, role: Role = Role.BRAND, *, wallet: bool = True) -> Principal:
    """A principal with a unique name and, by default, a random wallet."""
    n = next(_counter)
    return create_principal(
        session, f"{role.value}-{n}", role, random_address() if wallet else None
    )


def make_product(session: Session, gtin: str | None = None) -> Product:
    """A brand (with its principal) and one product."""
    n = next(_counter)
    brand = Brand(
        principal_id=make_principal(session, Role.BRAND).id,
        company_prefix=f"{9500000 + n:07d}",
        name=f"Brand {n}",
    )
    session.add(brand)
    session.flush()
    product = Product(brand_id=brand.id, gtin=gtin or f"{n:014d}", name=f"Product {n}")
    session.add(product)
    session.flush()
    return product


def make_item(session: Session, product: Product, serial: str | None = None) -> Item:
    """One serialised item of `product`."""
    item = Item(product_id=product.id, serial=serial or f"S{next(_counter)}")
    session.add(item)
    session.flush()
    return item


def make_event(
    session: Session,
    *,
    event_time_ms: int = 1_700_000_000_000,
    kind: int = 0,
    event_hash: bytes | None = None,
    biz_step: str | None = "shipping",
    recorded_by: int | None = None,
    shipment_id: int | None = None,
    item_ids: tuple[int, ...] = (),
    fields: dict[str, Any] | None = None,
) -> Event:
    """Record an event (with its pending leaf) whose body is a small EPCIS-like JSON document
    (plus `fields`, e.g. a disposition)."""
    body = {
        "type": "ObjectEvent",
        "eventTime": event_time_ms,
        "n": next(_counter),
        **(fields or {}),
    }
    hashed = hashed_event(
        kind=kind,
        event_hash=event_hash or secrets.token_bytes(32),
        event_json=json.dumps(body, separators=(",", ":")),
        biz_step=biz_step,
        event_time_ms=event_time_ms,
    )
    return record_event(
        session, hashed, recorded_by=recorded_by, shipment_id=shipment_id, item_ids=item_ids
    )


def hashed_event(n: int = 0, **fields: Any) -> HashedEvent:
    """A HashedEvent with a random hash (the store does not re-hash): `fields` override any of
    kind, event_hash, event_json, event_type, biz_step, event_time_ms."""
    values: dict[str, Any] = {
        "kind": 0,
        "event_hash": secrets.token_bytes(32),
        "event_json": f'{{"type":"ObjectEvent","n":{n}}}',
        "event_type": "ObjectEvent",
        "biz_step": "shipping",
        "event_time_ms": 1_700_000_000_000 + n,
    }
    values.update(fields)
    return HashedEvent(**values)


def make_device(session: Session, owner: Principal) -> Device:
    """A registered device owned by `owner`."""
    device = Device(address=random_address(), owner_principal_id=owner.id, label="probe")
    session.add(device)
    session.flush()
    return device


def make_shipment(session: Session) -> Shipment:
    """A created shipment between a fresh carrier and consignee."""
    carrier = make_principal(session, Role.CARRIER)
    consignee = make_principal(session, Role.BUYER)
    shipment = Shipment(
        shipment_id="0x" + secrets.token_hex(32),
        carrier_principal_id=carrier.id,
        consignee_principal_id=consignee.id,
        payee_address=carrier.wallet_address or random_address(),
        buyer_address=consignee.wallet_address or random_address(),
        terms_json=json.dumps({"amount": str(10**18)}),
        terms_hash="0x" + secrets.token_hex(32),
        origin="urn:epc:id:sgln:9520001.00001.0",
        destination="urn:epc:id:sgln:9520002.00001.0",
    )
    session.add(shipment)
    session.flush()
    return shipment


def reading_row(device: str, seq: int, **overrides: Any) -> dict[str, Any]:
    """A reading row as insert_readings takes it; digest and signature are random bytes."""
    row: dict[str, Any] = {
        "device_address": device,
        "seq": seq,
        "taken_at_ms": 1_700_000_000_000 + seq * 60_000,
        "temperature_centi_c": 450,
        "humidity_centi_pct": 5500,
        "shock_milli_g": 20,
        "lat_e7": 523_456_789,
        "lon_e7": 134_567_890,
        "signature": secrets.token_bytes(65),
        "digest": secrets.token_bytes(32),
    }
    row.update(overrides)
    return row
