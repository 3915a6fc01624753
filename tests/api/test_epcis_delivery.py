"""The subscription delivery worker (issue 15) against a real HTTP receiver: signed documents,
a subscriber that goes down misses nothing and gets everything in order, retries back off,
two workers never send a delivery twice, only what the owner may see goes out, and the worker
neither follows redirects nor reaches a destination the check refuses. SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from core.epcis.hashed_event import HashedEvent
from core.merkle import MerkleTree
from store.admin_log import Actor
from store.db import make_engine, session_factory, transaction, upgrade
from store.erasure import erase_event
from store.models import BatchStatus, Delivery
from store.models.types import utcnow
from store.outbox import claim_pending_leaves, create_batch
from store.principals import set_disabled
from store.recording import record_event
from store.subscription_outbox import safe_watermark, stream_subscriptions
from tests.api.subscription_support import (
    Receiver,
    create_query,
    observe,
    principal,
    record,
    serve,
    subscribe,
    until,
    worker,
)

SKU = "urn:epc:id:sgtin:0614141.012345."


@pytest.fixture
def client(api_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    yield from serve(api_engine, tmp_path, webhook_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    try:
        yield running
    finally:
        running.stop()


def _deliveries(engine: Engine) -> list[Delivery]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_a_subscriber_that_is_down_misses_nothing(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "shipped", {"EQ_bizStep": ["shipping"]})
    subscribe(client, key, "shipped", receiver.url)
    deliver = worker(api_engine)
    expected = record(api_engine, pid, observe(SKU + "1", "shipping"))
    record(api_engine, pid, observe(SKU + "x", "receiving"))  # does not match
    until(lambda: receiver.delivered_ids() == expected, deliver.run_once)

    receiver.stop()
    assert receiver.refuses()
    for n in range(2, 8):  # six events in three rounds while it is down: three deliveries
        expected += record(api_engine, pid, observe(SKU + str(n), "shipping"))
        if n % 2:
            deliver.run_once()
    # Retries back off: each failed attempt waits twice as long, up to the cap (1 s).
    # Each failed attempt waits 0.2 s x 2^(attempt - 1), at most 1 s, from when it failed
    # (between `before` and `after` the round).
    waits: list[tuple[int, float]] = []
    for _ in range(5):
        head = next(d for d in _deliveries(api_engine) if d.delivered_at is None)
        time.sleep(max(0.0, (head.next_attempt_at - utcnow()).total_seconds()) + 0.01)
        before = utcnow()
        deliver.run_once()
        after = utcnow()
        failed = next(d for d in _deliveries(api_engine) if d.id == head.id)
        assert failed.delivered_at is None and failed.last_error
        expected_wait = min(1.0, 0.2 * 2 ** (failed.attempts - 1))
        assert (
            (failed.next_attempt_at - after).total_seconds() - 0.01
            <= expected_wait
            <= (failed.next_attempt_at - before).total_seconds() + 0.01
        ), (failed.attempts, before, after, failed.next_attempt_at)
        waits.append((failed.attempts, expected_wait))
    assert [a for a, _ in waits] == list(range(waits[0][0], waits[0][0] + 5))
    assert waits[-1][1] == 1.0 > waits[0][1]
    pending = [d for d in _deliveries(api_engine) if d.delivered_at is None]
    assert len(pending) >= 3 and all(d.attempts == 0 for d in pending[1:])  # head of line

    receiver.start()  # back, on the same port
    until(lambda: len(receiver.delivered_ids()) == len(expected), deliver.run_once)
    assert receiver.delivered_ids() == expected  # nothing missed, in order
    assert all(item.signature_ok for item in receiver.received)
    assert len({item.delivery_id for item in receiver.received}) == len(receiver.received)
    headers = receiver.received[-1].headers
    assert headers["Idempotency-Key"] == receiver.received[-1].delivery_id
    assert receiver.received[-1].body["epcisBody"]["queryResults"]["queryName"] == "shipped"
    assert all(d.delivered_at is not None for d in _deliveries(api_engine))
    sub_url = "/epcis/queries/shipped/subscriptions"
    assert client.get(sub_url, headers={"X-API-Key": key}).json()[0]["lastNotifiedAt"]


def test_a_subscription_gets_only_what_its_owner_may_see(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    x, x_key = principal(api_engine, "x")
    y, _y_key = principal(api_engine, "y")
    create_query(client, x_key, "everything", {})
    subscribe(client, x_key, "everything", receiver.url)
    theirs = record(api_engine, y, observe(SKU + "y1"), observe(SKU + "y2"))
    mine = record(api_engine, x, observe(SKU + "x1"))
    theirs += record(api_engine, y, observe(SKU + "y3"))
    deliver = worker(api_engine)
    until(lambda: receiver.delivered_ids() == mine, deliver.run_once)
    for _ in range(3):
        deliver.run_once()
    assert receiver.delivered_ids() == mine
    assert not set(theirs) & {e for item in receiver.received for e in item.event_ids}
    assert "y1" not in str([item.body for item in receiver.received])


def test_events_before_initial_record_time_are_not_sent_and_a_past_one_reads_back(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    old = record(api_engine, pid, observe(SKU + "old"))
    create_query(client, key, "all", {})
    subscribe(client, key, "all", receiver.url)  # from now on
    past = (utcnow() - timedelta(hours=1)).isoformat()
    other = Receiver().start()
    try:
        subscribe(client, key, "all", other.url, initialRecordTime=past)
        new = record(api_engine, pid, observe(SKU + "new"))
        deliver = worker(api_engine)
        until(lambda: receiver.delivered_ids() == new, deliver.run_once)
        until(lambda: other.delivered_ids() == old + new, deliver.run_once)
    finally:
        other.stop()


def test_two_workers_never_send_one_delivery_twice(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    names = [f"q{i}" for i in range(4)]
    for name in names:
        create_query(client, key, name, {})
        subscribe(client, key, name, receiver.url)
    receiver.delay = 0.05  # sends overlap in time
    expected: list[str] = []
    workers = [worker(api_engine, "a"), worker(api_engine, "b")]
    stop = threading.Event()

    def loop(index: int) -> None:
        while not stop.is_set():
            workers[index].run_once()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        for n in range(6):
            expected += record(api_engine, pid, observe(SKU + f"p{n}"))
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while len(receiver.received) < 1 or sum(len(i.event_ids) for i in receiver.received) < len(
            expected
        ) * len(names):
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    ids = [item.delivery_id for item in receiver.received]
    assert len(ids) == len(set(ids))  # no delivery sent twice
    for name in names:  # each subscription got every event once, in order
        got = [
            e
            for item in receiver.received
            if item.body["epcisBody"]["queryResults"]["queryName"] == name
            for e in item.event_ids
        ]
        assert got == expected, name


def test_redirects_are_not_followed_and_slow_subscribers_time_out(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    target = Receiver().start()
    try:
        create_query(client, key, "all", {})
        subscribe(client, key, "all", receiver.url)
        receiver.status = 307
        receiver.extra_headers = {"Location": target.url}
        record(api_engine, pid, observe(SKU + "r"))
        deliver = worker(api_engine, delivery_timeout_seconds=0.5)
        until(lambda: len(receiver.answered) >= 2, deliver.run_once)
        assert target.answered == []  # the redirect's target never saw a request
        assert _deliveries(api_engine)[0].last_status == 307
        assert _deliveries(api_engine)[0].delivered_at is None
        receiver.status, receiver.hold = 200, threading.Event()
        time.sleep(1.1)  # past the backoff
        answered = len(receiver.answered)
        deliver.run_once()
        # It gave up (at the 0.5 s read timeout) while the subscriber still held the request.
        assert len(receiver.answered) == answered
        assert "Timeout" in (_deliveries(api_engine)[0].last_error or "")
        receiver.hold.set()
        until(lambda: len(receiver.received) == 1, deliver.run_once)
    finally:
        target.stop()


def test_the_destination_is_checked_again_at_delivery(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    subscribe(client, key, "all", receiver.url)  # accepted: this app allows loopback
    record(api_engine, pid, observe(SKU + "1"))
    strict = worker(api_engine, webhook_allow_private=False)
    for _ in range(3):
        strict.run_once()
        time.sleep(0.25)
    assert receiver.answered == []
    assert "destination refused" in (_deliveries(api_engine)[0].last_error or "")


def test_the_watermark_waits_for_an_insert_still_to_commit(pg_db_url: str) -> None:
    # PostgreSQL only: SQLite serialises writers, so its ids commit in order.
    upgrade(pg_db_url)
    engine = make_engine(pg_db_url)
    try:
        pid, _key = principal(engine, "p")
        record(engine, pid, observe(SKU + "0"))
        with session_factory(engine)() as session:
            start = int(session.scalar(text("SELECT max(id) FROM events")) or 0)
        slow = session_factory(engine)()
        slow.begin()
        record_event(slow, HashedEvent.of(observe(SKU + "slow")), recorded_by=pid)
        slow.flush()  # holds id start + 1, uncommitted
        record(engine, pid, observe(SKU + "fast"))  # id start + 2, committed
        wait = timedelta(seconds=30)
        with transaction(session_factory(engine)) as session:
            assert safe_watermark(session, start, gap_wait=wait) == start
            assert safe_watermark(session, start, gap_wait=timedelta(0)) == start + 2
        slow.commit()
        slow.close()
        with transaction(session_factory(engine)) as session:
            assert safe_watermark(session, start, gap_wait=wait) == start + 2
    finally:
        engine.dispose()


def test_a_scheduled_subscription_reports_each_run(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    every_second = {"second": "[0-59]"}
    subscribe(
        client, key, "all", receiver.url, stream=None, schedule=every_second, reportIfEmpty=True
    )
    quiet = Receiver().start()
    try:
        subscribe(
            client, key, "all", quiet.url, stream=None, schedule=every_second, reportIfEmpty=False
        )
        deliver = worker(api_engine)
        expected = record(api_engine, pid, observe(SKU + "1"), observe(SKU + "2"))
        until(lambda: receiver.delivered_ids() == expected, deliver.run_once)
        until(lambda: quiet.delivered_ids() == expected, deliver.run_once)
        # Runs with nothing new: an empty document only where reportIfEmpty is set.
        done = len(receiver.received)
        until(lambda: len(receiver.received) >= done + 2, deliver.run_once)
        assert all(item.event_ids == [] for item in receiver.received[done:])
        assert all(item.signature_ok for item in receiver.received)
        assert [len(item.event_ids) for item in quiet.received] == [2]
        expected += record(api_engine, pid, observe(SKU + "3"))
        until(lambda: quiet.delivered_ids() == expected, deliver.run_once)
        assert receiver.delivered_ids() == expected
    finally:
        quiet.stop()


def test_a_subscriber_that_stays_down_never_grows_the_outbox_past_its_bound(
    client: TestClient, api_engine: Engine
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    down = Receiver().start()
    down.stop()  # its port now refuses
    stream = subscribe(client, key, "all", down.url)["subscriptionID"]
    every_second = {"second": "[0-59]"}
    scheduled = subscribe(
        client, key, "all", down.url, stream=None, schedule=every_second, reportIfEmpty=True
    )["subscriptionID"]
    deliver = worker(api_engine, delivery_max_pending=3)
    expected: list[str] = []
    # Several scheduled runs (4 s of an every-second schedule) and more than 10 rounds, one new
    # event a round, however long a loaded machine takes for them.
    deadline = time.monotonic() + 4
    while len(expected) <= 10 or time.monotonic() < deadline:
        expected += record(api_engine, pid, observe(SKU + f"d{len(expected)}"))
        deliver.run_once()
        time.sleep(0.1)
    pending = [d.subscription_id for d in _deliveries(api_engine) if d.delivered_at is None]
    assert len(set(pending)) == 2
    assert all(pending.count(s) <= 3 for s in pending), pending

    def got(subscription_id: str) -> list[str]:
        seen: set[str] = set()
        out: list[str] = []
        for item in down.received:
            results = item.body["epcisBody"]["queryResults"]
            if results["subscriptionID"] == subscription_id and item.delivery_id not in seen:
                seen.add(item.delivery_id)
                out += item.event_ids
        return out

    down.start()  # back, on the same port: both get every event, in order, nothing lost
    until(lambda: got(stream) == expected and got(scheduled) == expected, deliver.run_once)
    assert all(item.signature_ok for item in down.received)


def _slowloris(stop: threading.Event) -> tuple[socket.socket, threading.Thread]:
    """A subscriber that takes the POST and answers its headers a byte every 0.2 s (each byte
    well within the worker's read timeout), until `stop`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 1000:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def serve_slowly() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve_slowly, daemon=True)
    thread.start()
    return server, thread


def test_a_slow_subscriber_does_not_hold_up_the_others(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    stop = threading.Event()
    server, thread = _slowloris(stop)
    slow_url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    deliver = worker(api_engine, delivery_timeout_seconds=0.5)
    running = threading.Thread(target=deliver.run, daemon=True)
    try:
        subscribe(client, key, "all", slow_url)
        subscribe(client, key, "all", receiver.url)
        running.start()
        for n in range(3):  # each event reaches the healthy subscriber within seconds
            expected = record(api_engine, pid, observe(SKU + f"s{n}"))
            started = time.monotonic()
            while expected[0] not in receiver.delivered_ids():
                # Held up, it would wait out the slow one's answer (a byte every 0.2 s: 200 s).
                assert time.monotonic() - started < 60, f"event {n} held up by the slow one"
                time.sleep(0.05)
        slow = next(d for d in _deliveries(api_engine) if d.delivered_at is None)
        assert "Timeout" in (slow.last_error or "")  # given up on, to be retried
    finally:
        stop.set()
        deliver.stop()
        running.join(10)
        thread.join(5)
        server.close()


def test_a_scheduled_run_reads_up_to_now_even_past_one_round(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    # One document of one event at a time, two pending at most: the run needs several rounds,
    # and the events recorded before it all go out before the next run (a minute later).
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    expected = record(api_engine, pid, *(observe(SKU + f"r{n}") for n in range(5)))
    soon = (utcnow() + timedelta(seconds=2)).second
    subscribe(
        client,
        key,
        "all",
        receiver.url,
        stream=None,
        schedule={"second": str(soon)},
        initialRecordTime=(utcnow() - timedelta(minutes=1)).isoformat(),
    )
    deliver = worker(api_engine, delivery_max_events=1, delivery_max_pending=2)
    until(lambda: receiver.delivered_ids() == expected, deliver.run_once, seconds=20)


def test_a_disabled_principals_subscriptions_send_nothing(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    subscribe(client, key, "all", receiver.url)
    deliver = worker(api_engine)
    first = record(api_engine, pid, observe(SKU + "before"))
    until(lambda: receiver.delivered_ids() == first, deliver.run_once)
    record(api_engine, pid, observe(SKU + "queued"))
    deliver.match()  # a document waits for the subscriber
    with transaction(session_factory(api_engine)) as session:
        set_disabled(session, pid, True)
    record(api_engine, pid, observe(SKU + "after"))
    for _ in range(5):
        deliver.run_once()
        time.sleep(0.25)
    assert receiver.delivered_ids() == first  # neither the waiting document nor a new one
    assert "disabled" in (_deliveries(api_engine)[-1].last_error or "")


def test_an_idle_round_reads_no_caught_up_stream(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    # Thousands of subscriptions must not cost a transaction each on every idle round.
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    for _ in range(3):
        subscribe(client, key, "all", receiver.url)
    deliver = worker(api_engine)
    expected = record(api_engine, pid, observe(SKU + "i1"))
    with session_factory(api_engine)() as session:
        assert len(stream_subscriptions(session)) == 3
    until(lambda: receiver.delivered_ids() == expected * 3, deliver.run_once)
    deliver.run_once()
    with session_factory(api_engine)() as session:
        assert stream_subscriptions(session) == []  # caught up: nothing to read
    expected += record(api_engine, pid, observe(SKU + "i2"))
    with session_factory(api_engine)() as session:
        assert len(stream_subscriptions(session)) == 3
    until(lambda: len(receiver.delivered_ids()) == 6, deliver.run_once)


def test_an_event_erased_before_it_is_sent_is_not_sent_nor_counted_as_notified(
    client: TestClient, api_engine: Engine, receiver: Receiver
) -> None:
    pid, key = principal(api_engine, "partner")
    create_query(client, key, "all", {})
    sub = subscribe(client, key, "all", receiver.url)
    sub_url = f"/epcis/queries/all/subscriptions/{sub['subscriptionID']}"
    deliver = worker(api_engine)
    record(api_engine, pid, observe(SKU + "personal"))
    assert deliver.match() == 1  # its document waits
    with transaction(session_factory(api_engine)) as session:
        leaves = claim_pending_leaves(session, 100)
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        create_batch(session, tree, leaves).status = BatchStatus.ANCHORED
        session.flush()
        erase_event(session, leaves[0].event_id, Actor.cli("dpo"), "request")
    assert deliver.send_due() == (1, 0)  # done with: there is nothing left to send
    assert receiver.answered == []
    shown = client.get(sub_url, headers={"X-API-Key": key}).json()
    assert "lastNotifiedAt" not in shown  # the subscriber was never notified
    later = record(api_engine, pid, observe(SKU + "later"))
    until(lambda: receiver.delivered_ids() == later, deliver.run_once)
    assert client.get(sub_url, headers={"X-API-Key": key}).json()["lastNotifiedAt"]
