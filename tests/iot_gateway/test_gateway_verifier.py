"""The verifier stage: worker processes give the same verdicts as the inline path, and survive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy.orm import Session, sessionmaker

from core.eip712 import Reading, anchor_domain, sign
from iot_gateway.payload import DeviceStatus, PayloadLimits, RejectReason
from iot_gateway.pipeline import Inbound
from iot_gateway.registry import DeviceRegistry
from iot_gateway.verifier import Verifier
from store.db import transaction
from store.models import Device, Role
from tests.iot_gateway.conftest import ANCHOR, CHAIN_ID, key_for
from tests.utils.store_factories import make_principal

NOW_MS = 1_750_000_000_000
DOMAIN = anchor_domain(CHAIN_ID, ANCHOR)
ACTIVE, REVOKED, UNKNOWN, OTHER = (key_for(f"verifier-{n}") for n in range(4))
STATUS = {
    Account.from_key(ACTIVE).address.lower(): DeviceStatus.ACTIVE,
    Account.from_key(REVOKED).address.lower(): DeviceStatus.REVOKED,
}


def _lookup(address: str) -> DeviceStatus:
    return STATUS.get(address.lower(), DeviceStatus.UNKNOWN)


def _message(
    mid: int,
    key: bytes,
    *,
    signer: bytes | None = None,
    seq: int = 1,
    taken_at_ms: int = NOW_MS - 1000,
) -> Inbound:
    address = Account.from_key(key).address
    fields: dict[str, Any] = {
        "device": address,
        "seq": seq,
        "takenAtMs": taken_at_ms,
        "temperatureCentiC": 450,
        "humidityCentiPct": 5500,
        "shockMilliG": 0,
        "latE7": 1,
        "lonE7": 2,
    }
    signature = sign(Reading.from_json(fields), DOMAIN, signer or key)
    payload = json.dumps({**fields, "signature": "0x" + signature.hex()}).encode()
    topic = "chaintrace/v1/readings/" + address.lower()
    return Inbound(mid, 1, 0, topic, payload[:100], raw=payload)


def _batch() -> list[Inbound]:
    return [
        _message(1, ACTIVE),
        _message(2, ACTIVE, signer=OTHER, seq=2),  # signed by another key
        _message(3, REVOKED),
        _message(4, UNKNOWN),
        Inbound(5, 1, 0, "chaintrace/v1/readings/0xnope", b"{", raw=b"{"),
        _message(6, ACTIVE, seq=3),
    ]


def _verdicts(batch: list[Inbound]) -> list[tuple[int, str]]:
    out = []
    for item in batch:
        if item.reading is not None:
            out.append((item.mid, f"stored seq {item.reading.reading.seq}"))
        elif item.unknown is not None:
            out.append((item.mid, "unknown, rechecked after a registry reload"))
        else:
            assert item.reject is not None
            out.append((item.mid, item.reject.reason.value))
    return out


EXPECTED = [
    (1, "stored seq 1"),
    (2, RejectReason.BAD_SIGNATURE.value),
    (3, RejectReason.REVOKED_DEVICE.value),
    (4, "unknown, rechecked after a registry reload"),
    (5, RejectReason.MALFORMED_JSON.value),
    (6, "stored seq 3"),
]


@pytest.fixture
def verifier(request: pytest.FixtureRequest) -> Iterator[Verifier]:
    verifier = Verifier(
        DOMAIN, PayloadLimits(), _lookup, lambda: NOW_MS, processes=int(request.param)
    )
    verifier.start()
    try:
        yield verifier
    finally:
        verifier.close()


@pytest.mark.parametrize("verifier", [0, 1], indirect=True, ids=["inline", "process"])
def test_verdicts_in_order_whether_inline_or_in_a_process(verifier: Verifier) -> None:
    first, second = verifier.submit(_batch()), verifier.submit(_batch()[::-1])
    assert _verdicts(first.result()) == EXPECTED
    assert _verdicts(second.result()) == EXPECTED[::-1]


@pytest.mark.parametrize("verifier", [1], indirect=True, ids=["process"])
def test_a_dead_worker_costs_no_message(verifier: Verifier) -> None:
    assert _verdicts(verifier.submit(_batch()).result()) == EXPECTED
    (worker,) = verifier._workers
    worker.process.kill()
    worker.process.join(10)
    # Its batch is verified inline, the worker replaced, and the next batch goes to the new one.
    assert _verdicts(verifier.submit(_batch()).result()) == EXPECTED
    assert _verdicts(verifier.submit(_batch()).result()) == EXPECTED
    (replacement,) = verifier._workers
    assert replacement is not worker and replacement.process.is_alive()


@pytest.mark.parametrize("processes", [0, 1], ids=["inline", "process"])
def test_a_revoked_devices_backlog_taken_before_the_revocation_is_accepted_within_the_grace(
    db_sessions: sessionmaker[Session], processes: int
) -> None:
    # Revoked 500 ms before NOW_MS; the registry learns the time from the store.
    revoked_at_ms = NOW_MS - 500
    with transaction(db_sessions) as session:
        owner = make_principal(session, Role.CARRIER)
        session.add(
            Device(
                address=Account.from_key(REVOKED).address,
                owner_principal_id=owner.id,
                label="revoked logger",
                revoked_at=datetime.fromtimestamp(revoked_at_ms / 1000, UTC),
            )
        )
    wall = [NOW_MS]
    registry = DeviceRegistry(db_sessions, revoked_backlog_s=3600, wall_ms=lambda: wall[0])
    registry.reload()
    verifier = Verifier(
        DOMAIN,
        PayloadLimits(),
        registry.status,
        lambda: NOW_MS,
        processes=processes,
        backlog=registry.accepts_backlog,
    )
    verifier.start()

    def batch() -> list[Inbound]:
        return [
            _message(1, REVOKED, seq=1, taken_at_ms=revoked_at_ms - 60_000),  # backlog
            _message(2, REVOKED, seq=2, taken_at_ms=revoked_at_ms - 1),  # backlog
            _message(3, REVOKED, seq=3, taken_at_ms=revoked_at_ms),  # at the revocation
            _message(4, REVOKED, seq=4, taken_at_ms=NOW_MS),  # after it
            _message(5, REVOKED, seq=5, signer=OTHER, taken_at_ms=revoked_at_ms - 1),  # forged
        ]

    try:
        assert _verdicts(verifier.submit(batch()).result()) == [
            (1, "stored seq 1"),
            (2, "stored seq 2"),
            (3, RejectReason.REVOKED_DEVICE.value),
            (4, RejectReason.REVOKED_DEVICE.value),
            (5, RejectReason.BAD_SIGNATURE.value),
        ]
        # The same backlog arriving after the grace period (the key may be a thief's by then,
        # and a thief can sign any takenAtMs) is refused.
        wall[0] = revoked_at_ms + 3_600_000
        assert [v for _mid, v in _verdicts(verifier.submit(batch()).result())] == [
            RejectReason.REVOKED_DEVICE.value
        ] * 5
    finally:
        verifier.close()
