"""Money at risk (issue 11): funded, unattested shipments by time left to attest.

On a real anvil with the deployed ShipmentEscrow (v1: attest while `now <= deadline +
refundGrace`, refund() from the next second), the chain follower and SQLite / PostgreSQL. With
no settlement worker running, the API's /metrics and `chaintrace settle --status` (a real
process given DATABASE_URL only: no key, no chain) show each funded shipment's window; a
settlement pass logs each shipment once as it enters T-24 h, T-1 h and expiry.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import store
from api.main import create_app
from api.settings import ApiSettings
from chain.follower import ChainFollower
from chain.settings import FollowSettings
from core.eip712 import Terms, terms_hash
from store.models import Role, Shipment, ShipmentStatus
from store.principals import create_api_key, create_principal
from store.shipments import shipment_by_hex
from tests.utils.anvil import ChainEnv, increase_time
from tests.utils.store_factories import make_event
from tests.utils.terms import make_terms
from tests.utils.workers import settlement_worker

from .settlement_support import fund, stored

HOUR = 3_600
_CLI = Path(sys.executable).with_name("chaintrace")


def fresh_block(env: ChainEnv) -> int:
    """Mine a block now, so the chain's latest time is not behind the wall clock; its time."""
    return increase_time(env.w3, 0)


@pytest.fixture
def parties(env: ChainEnv, db_sessions: sessionmaker[Session]) -> tuple[int, int]:
    """(carrier, consignee) principal ids: the payee's and the buyer's."""
    with store.transaction(db_sessions) as session:
        carrier = create_principal(session, "carrier", Role.CARRIER, env.payee.address)
        consignee = create_principal(session, "buyer", Role.BUYER, env.buyer.address)
        return carrier.id, consignee.id


def shipment_row(
    sessions: sessionmaker[Session],
    parties: tuple[int, int],
    terms: Terms,
    received_at: int | None = None,
) -> str:
    """The store's record of a shipment under `terms`, created (the follower funds it)."""
    with store.transaction(sessions) as session:
        shipment = Shipment(
            shipment_id="0x" + terms.shipment_id.hex(),
            carrier_principal_id=parties[0],
            consignee_principal_id=parties[1],
            payee_address=terms.payee,
            buyer_address=terms.buyer,
            terms_json=json.dumps(terms.to_json()),
            terms_hash="0x" + terms_hash(terms).hex(),
            status=ShipmentStatus.CREATED,
        )
        session.add(shipment)
        session.flush()
        if received_at is not None:
            make_event(
                session,
                event_time_ms=received_at * 1000,
                biz_step="receiving",
                shipment_id=shipment.id,
            )
        return shipment.shipment_id


def funded(
    env: ChainEnv,
    sessions: sessionmaker[Session],
    parties: tuple[int, int],
    deadline: int,
    grace: int,
    **row: Any,
) -> str:
    """A shipment funded on chain with these limits, and its store row; its id."""
    terms = make_terms(env, deadline=deadline, refund_grace=grace)
    fund(env, terms)
    return shipment_row(sessions, parties, terms, **row)


def follow(env: ChainEnv, db_url: str, sessions: sessionmaker[Session]) -> None:
    """The chain follower (as `chaintrace anchor` runs it) caught up with the chain's head."""
    follower = ChainFollower(
        FollowSettings(chaintrace_dev=True, database_url=db_url), sessions, env.w3, env.deployment
    )
    while follower.run_once().from_block is not None:
        pass


def metric(scrape: str, name: str, labels: str = "") -> float:
    """One sample's value from a Prometheus text scrape."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    found = [m.group(1) for line in scrape.splitlines() if (m := re.match(pattern, line))]
    assert len(found) == 1, (name, labels, scrape)
    return float(found[0])


def status_table(db_url: str) -> subprocess.CompletedProcess[str]:
    """`chaintrace settle --status` as an operator runs it: DATABASE_URL only, not dev mode."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    env["DATABASE_URL"] = db_url
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # this tree's code
    return subprocess.run(
        [str(_CLI), "settle", "--status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass(frozen=True)
class AtRisk:
    """Shipments by what the store shows, all with no settlement worker running."""

    t0: int  # chain time before funding
    now: int  # chain time after funding, as the follower last saw it
    lapsed: str  # attest by t0 + 60: expired
    soon: str  # t0 + 1800: T-1h, shipping
    late: str  # t0 + 5 h 05 min: T-24h, received after the deadline
    today: str  # t0 + 11 h: T-24h, funded
    later: str  # t0 + 73 h
    attested: str  # funded on chain, attested in the store: not at risk
    unfunded: str  # in the store, never funded: not at risk


@pytest.fixture
def at_risk(
    env: ChainEnv, db_url: str, db_sessions: sessionmaker[Session], parties: tuple[int, int]
) -> AtRisk:
    t0 = fresh_block(env)
    # funded(..., deadline, refund grace): attest by their sum.
    made = {
        "soon": funded(env, db_sessions, parties, t0 + 600, 1_200),
        "today": funded(env, db_sessions, parties, t0 + 10 * HOUR, HOUR),
        "later": funded(env, db_sessions, parties, t0 + 72 * HOUR, HOUR),
        "lapsed": funded(env, db_sessions, parties, t0 + 60, 0),
        "late": funded(env, db_sessions, parties, t0 + 300, 5 * HOUR, received_at=t0 + 400),
        "attested": funded(env, db_sessions, parties, t0 + 600, 600),
        "unfunded": shipment_row(
            db_sessions, parties, make_terms(env, deadline=t0 + 600, refund_grace=0)
        ),
    }
    now = increase_time(env.w3, 120)
    follow(env, db_url, db_sessions)
    with store.transaction(db_sessions) as session:
        moved = {
            "attested": ShipmentStatus.ATTESTED,  # the worker's record, before the follower's
            "soon": ShipmentStatus.SHIPPING,  # the carrier recorded shipping
            "late": ShipmentStatus.RECEIVED,
        }
        for name, status in moved.items():
            row = shipment_by_hex(session, made[name])
            assert row is not None and row.status is ShipmentStatus.FUNDED
            row.status = status
    assert stored(db_sessions, made["today"]).status is ShipmentStatus.FUNDED
    assert stored(db_sessions, made["unfunded"]).status is ShipmentStatus.CREATED
    return AtRisk(t0, now, **made)


def test_metrics_show_money_at_risk_while_no_settlement_worker_runs(
    at_risk: AtRisk,
    db_url: str,
    db_engine: Engine,
    db_sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    # The API alone (no settlement worker, no chain): /metrics reads the store.
    settings = ApiSettings(
        database_url=db_url,
        public_base_url="https://id.example.com",
        deployments_file=tmp_path / "none.json",
    )
    with store.transaction(db_sessions) as session:
        admin = create_principal(session, "ops", Role.ADMIN)
        key = create_api_key(session, admin.id, "ops")
    with TestClient(create_app(settings, engine=db_engine)) as client:
        scrape = client.get("/metrics", headers={"X-API-Key": key})
        read_by = max(int(time.time()) + 1, at_risk.now)  # the latest "now" the API could use
    assert scrape.status_code == 200, scrape.text
    text = scrape.text
    windows = {"expired": 1, "1h": 1, "24h": 2, "later": 1}  # 24h: today and late
    for window, count in windows.items():
        assert metric(text, "chaintrace_settlement_at_risk", f'window="{window}"') == count
    least = metric(text, "chaintrace_settlement_seconds_to_deadline_min")
    # `soon`: attest by t0 + 1800, read at the later of the followed chain time (t0 + 120) and
    # the wall clock (store/at_risk.py): the chain may be behind the wall clock when an earlier
    # test in this process reverted it.
    assert 1_800 - (read_by - at_risk.t0) <= least <= 1_800 - (at_risk.now - at_risk.t0)


def test_settle_status_lists_money_at_risk_without_key_or_chain(
    at_risk: AtRisk, db_url: str
) -> None:
    result = status_table(db_url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    listed = (at_risk.lapsed, at_risk.soon, at_risk.late, at_risk.today, at_risk.later)
    lines = {sid: next(line for line in out.splitlines() if sid in line) for sid in listed}
    assert at_risk.attested not in out and at_risk.unfunded not in out
    positions = [out.index(sid) for sid in listed]
    assert positions == sorted(positions), out  # by time left
    assert "expired" in lines[at_risk.lapsed] and "refund" in lines[at_risk.lapsed]
    soon = lines[at_risk.soon]
    assert "shipping" in soon and "no receiving recorded" in soon
    assert re.search(r"\b2[0-9]m \d\ds\b", soon), soon  # ~28 minutes left
    assert "received after the deadline" in lines[at_risk.late]
    assert "3 ETH" in lines[at_risk.today] and "not shipped yet" in lines[at_risk.today]
    assert "Funded shipments not attested: 5" in out


def test_a_settlement_pass_warns_once_per_threshold(
    env: ChainEnv,
    db_url: str,
    db_sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    parties: tuple[int, int],
) -> None:
    t0 = fresh_block(env)
    sid = funded(env, db_sessions, parties, t0 + 24 * HOUR, HOUR)  # attest by t0 + 25 h
    follow(env, db_url, db_sessions)
    worker = settlement_worker(env, db_url, db_sessions)
    caplog.set_level(logging.WARNING, logger="chain.settlement.worker")

    def warnings() -> list[logging.LogRecord]:
        found = [r for r in caplog.records if sid in r.getMessage()]
        caplog.clear()
        return found

    worker.run_once()
    assert warnings() == []  # 25 h left
    increase_time(env.w3, 2 * HOUR)  # 23 h left
    worker.run_once()
    (w24,) = warnings()
    assert w24.levelno == logging.WARNING and "T-24h" in w24.getMessage()
    worker.run_once()
    assert warnings() == []
    increase_time(env.w3, 22 * HOUR + 30 * 60)  # 30 min left
    worker.run_once()
    (w1,) = warnings()
    assert w1.levelno == logging.WARNING and "T-1h" in w1.getMessage()
    assert "no receiving" in w1.getMessage() and "refund" in w1.getMessage()
    worker.run_once()
    worker.run_once()
    assert warnings() == []
    increase_time(env.w3, HOUR)  # past deadline + refund grace
    worker.run_once()
    (gone,) = warnings()
    assert gone.levelno == logging.ERROR and "refund" in gone.getMessage()
    worker.run_once()
    assert warnings() == []
    # A restarted worker says once what is at risk.
    settlement_worker(env, db_url, db_sessions).run_once()
    (again,) = warnings()
    assert again.levelno == logging.ERROR


def test_windows_and_time_left() -> None:
    from store.at_risk import format_left, window_of

    # v1 attests while now <= deadline + refundGrace: 0 s left is still in time.
    cases = {-1: "expired", 0: "1h", 3_600: "1h", 3_601: "24h", 86_400: "24h", 86_401: "later"}
    assert {left: window_of(left) for left in cases} == cases
    assert format_left(3 * 86_400 + 2 * HOUR) == "3d 02h"
    assert format_left(HOUR + 5 * 60) == "1h 05m"
    assert format_left(65) == "1m 05s"
    assert format_left(-(5 * HOUR + 7 * 60)) == "expired 5h 07m ago"
