"""Dead letters: kept with their reason, bounded, hostile fields neutralised, queried, purged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.dead_letters import (
    MAX_DETAIL_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_TOPIC_CHARS,
    NewDeadLetter,
    add_dead_letters,
    dead_letter_counts,
    list_dead_letters,
    purge_dead_letters,
)
from store.errors import StoreValueError
from store.models.types import utcnow

DEVICE = "0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1"
CHECKSUMMED = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"


def test_kept_with_reason_device_and_capped_sizes(db_sessions: sessionmaker[Session]) -> None:
    huge = b"\xff" * (MAX_PAYLOAD_BYTES * 3)
    with transaction(db_sessions) as session:
        added = add_dead_letters(
            session,
            [
                NewDeadLetter("t/" + "x" * 1000, huge, "too_large", "d" * 5000),
                NewDeadLetter("chaintrace/v1/readings/x", b"{", "malformed_json", "eof"),
                NewDeadLetter("t", b"{}", "bad_signature", "", DEVICE, 7),
            ],
        )
    assert added == 3
    with db_sessions() as session:
        large = list_dead_letters(session, reason="too_large")[0]
        assert large.payload == huge[:MAX_PAYLOAD_BYTES]
        assert large.payload_size == len(huge)
        assert len(large.topic) == MAX_TOPIC_CHARS and len(large.detail) == MAX_DETAIL_CHARS
        signed = list_dead_letters(session, device_address=DEVICE)
        assert [(d.reason, d.device_address, d.seq) for d in signed] == [
            ("bad_signature", CHECKSUMMED, 7)
        ]
        assert dead_letter_counts(session) == {
            "too_large": 1,
            "malformed_json": 1,
            "bad_signature": 1,
        }


@pytest.mark.parametrize(
    ("device", "seq"),
    [("0x1234", -5), ("not an address", -1), (None, 2**64), (DEVICE + "00", True)],
)
def test_hostile_device_and_seq_are_dropped_not_refused(
    db_sessions: sessionmaker[Session], device: object, seq: object
) -> None:
    letter = NewDeadLetter("t", b"x", "wrong_type", "", device, seq)  # type: ignore[arg-type]
    with transaction(db_sessions) as session:
        add_dead_letters(session, [letter])
    with db_sessions() as session:
        (row,) = list_dead_letters(session)
        assert (row.device_address, row.seq) == (None, None)


def test_reason_is_required_and_queries_check_arguments(
    db_sessions: sessionmaker[Session],
) -> None:
    with db_sessions() as session:
        with pytest.raises(StoreValueError):
            add_dead_letters(session, [NewDeadLetter("t", b"x", "")])
        with pytest.raises(StoreValueError):
            list_dead_letters(session, limit=0)
        with pytest.raises(StoreValueError):
            list_dead_letters(session, device_address="0xnope")
        with pytest.raises(StoreValueError):
            purge_dead_letters(session, utcnow().replace(tzinfo=None))


def test_newest_first_and_purge_by_age(db_sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(db_sessions) as session:
        add_dead_letters(
            session,
            [
                NewDeadLetter("old", b"1", "unknown_device", received_at=now - timedelta(days=40)),
                NewDeadLetter("new", b"2", "unknown_device", received_at=now),
            ],
        )
    with db_sessions() as session:
        assert [d.topic for d in list_dead_letters(session)] == ["new", "old"]
    with transaction(db_sessions) as session:
        assert purge_dead_letters(session, now - timedelta(days=30)) == 1
    with db_sessions() as session:
        assert [d.topic for d in list_dead_letters(session)] == ["new"]
