"""Model rules: validators, portable types (wei, UTC times), constraints, shipment status."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta, timezone

import pytest
from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.errors import InvalidTransitionError, StoreValueError
from store.models import AnchorBatch, Brand, Device, Item, Product, Shipment, ShipmentStatus
from store.shipments import can_transition, set_shipment_status, shipment_by_hex
from tests.utils.store_factories import (
    make_device,
    make_item,
    make_principal,
    make_product,
    make_shipment,
)


def test_wei_amounts_round_trip_exactly(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        shipment = make_shipment(session)
        shipment.payout_wei = 2**256 - 1
        shipment.refund_wei = 10**18 + 1
        shipment_pk = shipment.id
    with db_sessions() as session:
        stored = session.get_one(Shipment, shipment_pk)
        assert stored.payout_wei == 2**256 - 1 and stored.refund_wei == 10**18 + 1
        assert isinstance(stored.payout_wei, int)


@pytest.mark.parametrize("amount", [-1, 2**256, 1.5, "10"])
def test_wei_out_of_range_is_refused(db_session: Session, amount: object) -> None:
    shipment = make_shipment(db_session)
    shipment.payout_wei = amount  # type: ignore[assignment]
    with pytest.raises(StatementError):
        db_session.flush()


def test_times_come_back_timezone_aware_utc(db_sessions: sessionmaker[Session]) -> None:
    revoked = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    with transaction(db_sessions) as session:
        device = make_device(session, make_principal(session))
        device.revoked_at = revoked
        device_id = device.id
    with db_sessions() as session:
        stored = session.get_one(Device, device_id)
        assert stored.revoked_at == revoked and stored.revoked_at.tzinfo == UTC
        assert stored.created_at.tzinfo == UTC
        assert abs(stored.registered_at - datetime.now(UTC)) < timedelta(hours=1)


def test_naive_datetime_is_refused(db_session: Session) -> None:
    device = make_device(db_session, make_principal(db_session))
    device.revoked_at = datetime(2030, 1, 1)
    with pytest.raises(StatementError):
        db_session.flush()


def test_catalogue_validators(db_session: Session) -> None:
    owner = make_principal(db_session)
    for prefix in (
        "12345",
        "1234567890123",
        "12345a",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "123456\n",
    ):
        with pytest.raises(StoreValueError):
            Brand(principal_id=owner.id, company_prefix=prefix, name="b")
    for gtin in ("1234567890123", "123456789012345", "0000000000000x"):
        with pytest.raises(StoreValueError):
            Product(brand_id=1, gtin=gtin, name="p")
    for serial in ("", "x" * 21):
        with pytest.raises(StoreValueError):
            Item(product_id=1, serial=serial)
    with pytest.raises(StoreValueError):
        Device(address="0x" + "zz" * 20, owner_principal_id=owner.id)


def test_serial_is_unique_per_product(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        first, second = make_product(session), make_product(session)
        make_item(session, first, "A1")
        make_item(session, second, "A1")
        ids = (first.id, second.id)
    with pytest.raises(IntegrityError), transaction(db_sessions) as session:
        make_item(session, session.get_one(Product, ids[0]), "A1")
    with db_sessions() as session:
        assert len(session.scalars(select(Item)).all()) == 2


def test_foreign_keys_are_enforced(db_sessions: sessionmaker[Session]) -> None:
    # SQLite enforces them only with PRAGMA foreign_keys=ON, which make_engine sets.
    with pytest.raises(IntegrityError), transaction(db_sessions) as session:
        session.add(Item(product_id=987_654, serial="orphan"))
        session.flush()


def test_shipment_fields_are_normalised_and_checked(db_session: Session) -> None:
    shipment = make_shipment(db_session)
    upper = "0x" + secrets.token_hex(32).upper()
    shipment.fund_tx_hash = upper
    assert shipment.fund_tx_hash == upper.lower()
    assert shipment_by_hex(db_session, shipment.shipment_id.upper().replace("0X", "0x")) is shipment
    assert shipment_by_hex(db_session, "0x1234") is None
    assert shipment_by_hex(db_session, "0x" + "00" * 32) is None
    for field, value in (
        ("terms_hash", "abc"),
        ("buyer_address", "0x00"),
        ("dest_lat_e7", 90 * 10**7 + 1),
        ("dest_lon_e7", -180 * 10**7 - 1),
        ("dest_radius_m", 0),
        ("dest_radius_m", 1.5),
    ):
        with pytest.raises(StoreValueError):
            setattr(shipment, field, value)
    shipment.dest_lat_e7, shipment.dest_lon_e7, shipment.dest_radius_m = -90 * 10**7, 0, 500
    assert json.loads(shipment.terms_json)["amount"] == str(10**18)


def test_shipment_status_moves_forward_only(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        shipment = make_shipment(session)
        assert shipment.status is ShipmentStatus.CREATED
        with pytest.raises(InvalidTransitionError):
            set_shipment_status(session, shipment, ShipmentStatus.REFUNDED)
        for status in ("funded", "shipping", "arrived"):
            set_shipment_status(session, shipment, status)
        # Auto-accept: attested without an explicit receiving.
        set_shipment_status(session, shipment, ShipmentStatus.ATTESTED)
        with pytest.raises(InvalidTransitionError):
            set_shipment_status(session, shipment, ShipmentStatus.SHIPPING)
        with pytest.raises(InvalidTransitionError):
            set_shipment_status(session, shipment, ShipmentStatus.REFUNDED)
        with pytest.raises(StoreValueError):
            set_shipment_status(session, shipment, "lost")
        set_shipment_status(session, shipment, ShipmentStatus.SETTLED)
        shipment_id = shipment.shipment_id
    with db_sessions() as session:
        found = shipment_by_hex(session, shipment_id)
        assert found is not None and found.status is ShipmentStatus.SETTLED
    assert can_transition(ShipmentStatus.RECEIVED, ShipmentStatus.REFUNDED)
    assert not can_transition(ShipmentStatus.REFUNDED, ShipmentStatus.SETTLED)
    assert not can_transition(ShipmentStatus.FUNDED, ShipmentStatus.FUNDED)


def test_devices_and_items_attach_to_shipments(db_sessions: sessionmaker[Session]) -> None:
    with transaction(db_sessions) as session:
        shipment = make_shipment(session)
        device = make_device(session, shipment.carrier)
        product = make_product(session)
        shipment.devices.append(device)
        shipment.items.extend(make_item(session, product) for _ in range(3))
        shipment_pk = shipment.id
    with db_sessions() as session:
        stored = session.get_one(Shipment, shipment_pk)
        assert [d.address for d in stored.devices] == [device.address]
        assert len(stored.items) == 3


def test_signature_columns_hold_65_bytes_and_a_checksummed_brand(
    db_sessions: sessionmaker[Session],
) -> None:
    buyer_sig, brand_sig = secrets.token_bytes(65), secrets.token_bytes(65)
    with transaction(db_sessions) as session:
        shipment = make_shipment(session)
        with pytest.raises(StoreValueError, match="buyer_signature"):
            shipment.buyer_signature = secrets.token_bytes(64)
        shipment.buyer_signature = buyer_sig
        batch = AnchorBatch(root=secrets.token_bytes(32), leaf_count=1)
        with pytest.raises(StoreValueError, match="brand_signature"):
            batch.brand_signature = b""
        with pytest.raises(StoreValueError, match="brand_address"):
            batch.brand_address = "0x1234"
        batch.brand_address, batch.brand_signature = "0x" + "ab" * 20, brand_sig
        session.add(batch)
        shipment_id = shipment.id
    with db_sessions() as session:
        stored = session.get_one(Shipment, shipment_id)
        assert stored.buyer_signature == buyer_sig and stored.payee_signature is None
        row = session.scalars(select(AnchorBatch)).one()
        assert row.brand_address == to_checksum_address("0x" + "ab" * 20)
        assert row.brand_signature == brand_sig
