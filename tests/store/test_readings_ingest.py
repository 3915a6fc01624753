"""insert_readings: idempotent bulk insert; duplicates counted, conflicts reported, never fatal."""

from __future__ import annotations

import secrets

import pytest
from eth_utils.address import to_checksum_address
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.errors import StoreValueError
from store.models import Reading
from store.readings import insert_readings
from tests.utils.store_factories import random_address, reading_row


def _stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Reading)) or 0


def test_fresh_batch_is_inserted_with_checksummed_addresses(
    db_sessions: sessionmaker[Session],
) -> None:
    device = random_address()
    rows = [reading_row(device, seq) for seq in range(1, 51)]
    with transaction(db_sessions) as session:
        result = insert_readings(session, rows)
    assert result == (50, 0, [])
    with db_sessions() as session:
        stored = session.scalars(select(Reading).order_by(Reading.seq)).all()
        assert [r.seq for r in stored] == list(range(1, 51))
        assert {r.device_address for r in stored} == {to_checksum_address(device)}
        first = stored[0]
        assert first.digest == rows[0]["digest"] and first.signature == rows[0]["signature"]
        assert first.received_at.tzinfo is not None


def test_redelivered_batch_counts_duplicates_and_inserts_only_new_rows(
    db_sessions: sessionmaker[Session],
) -> None:
    device = random_address()
    rows = [reading_row(device, seq) for seq in range(1, 11)]
    with transaction(db_sessions) as session:
        assert insert_readings(session, rows[:6]) == (6, 0, [])
    # MQTT redelivery: the same signed readings again, plus new ones; one differs in case only.
    again = [dict(row) for row in rows]
    again[0]["device_address"] = device.upper().replace("0X", "0x")
    with transaction(db_sessions) as session:
        result = insert_readings(session, again)
    assert result.inserted == 4 and result.duplicates == 6 and result.conflicts == []
    with db_sessions() as session:
        assert _stored(session) == 10


def test_conflicting_digest_is_reported_and_the_rest_of_the_batch_stored(
    db_sessions: sessionmaker[Session],
) -> None:
    device = random_address()
    original = reading_row(device, 5)
    with transaction(db_sessions) as session:
        insert_readings(session, [original])
    forged = reading_row(device, 5, temperature_centi_c=-1000)
    with transaction(db_sessions) as session:
        result = insert_readings(session, [reading_row(device, 4), forged, reading_row(device, 6)])
    assert result.inserted == 2 and result.duplicates == 0
    (conflict,) = result.conflicts
    assert conflict.seq == 5 and conflict.device_address.lower() == device.lower()
    assert conflict.stored_digest == original["digest"] and conflict.new_digest == forged["digest"]
    with db_sessions() as session:
        row = session.scalars(select(Reading).where(Reading.seq == 5)).one()
        assert row.digest == original["digest"] and row.temperature_centi_c == 450
        assert _stored(session) == 3


def test_repeats_within_one_batch(db_session: Session) -> None:
    device = random_address()
    first = reading_row(device, 1)
    other = reading_row(device, 1)
    result = insert_readings(db_session, [first, dict(first), other, reading_row(device, 2)])
    assert result.inserted == 2 and result.duplicates == 1
    assert [(c.seq, c.stored_digest, c.new_digest) for c in result.conflicts] == [
        (1, first["digest"], other["digest"])
    ]


def test_same_seq_on_two_devices_is_not_a_conflict(db_session: Session) -> None:
    rows = [reading_row(random_address(), 1), reading_row(random_address(), 1)]
    assert insert_readings(db_session, rows) == (2, 0, [])


def test_empty_batch(db_session: Session) -> None:
    assert insert_readings(db_session, []) == (0, 0, [])


def test_large_batch_spanning_several_statements(db_session: Session) -> None:
    device = random_address()
    rows = [reading_row(device, seq) for seq in range(3000)]
    assert insert_readings(db_session, rows).inserted == 3000
    result = insert_readings(db_session, rows[::-1])
    assert result == (0, 3000, [])


@pytest.mark.parametrize(
    "override",
    [
        {"device_address": "0x1234"},
        {"device_address": None},
        {"seq": -1},
        {"seq": 2**63},
        {"seq": "7"},
        {"seq": True},
        {"temperature_centi_c": 2**31},
        {"humidity_centi_pct": -1},
        {"lat_e7": 1.5},
        {"digest": b"\x00" * 31},
        {"digest": "00" * 32},
        {"signature": b""},
        {"signature": b"\x00" * 66},
        {"shipment_id": "x"},
    ],
)
def test_bad_rows_are_refused_before_anything_is_written(
    db_session: Session, override: dict[str, object]
) -> None:
    device = random_address()
    bad = reading_row(device, 2)
    bad.update(override)
    rows = [reading_row(device, 1), bad]
    with pytest.raises(StoreValueError, match="reading 1"):
        insert_readings(db_session, rows)
    assert _stored(db_session) == 0


def test_missing_field_is_named(db_session: Session) -> None:
    row = reading_row(random_address(), 1)
    del row["lon_e7"]
    with pytest.raises(StoreValueError, match="lon_e7"):
        insert_readings(db_session, [row])


def test_extreme_values_round_trip(db_session: Session) -> None:
    device = random_address()
    row = reading_row(
        device,
        2**63 - 1,
        taken_at_ms=2**63 - 1,
        temperature_centi_c=-(2**31),
        humidity_centi_pct=2**32 - 1,
        shock_milli_g=2**32 - 1,
        lat_e7=-(2**31),
        lon_e7=2**31 - 1,
        signature=secrets.token_bytes(65),
    )
    assert insert_readings(db_session, [row]).inserted == 1
    stored = db_session.scalars(select(Reading)).one()
    for name in ("seq", "taken_at_ms", "temperature_centi_c", "humidity_centi_pct", "lat_e7"):
        assert getattr(stored, name) == row[name]
