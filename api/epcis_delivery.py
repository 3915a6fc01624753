"""The EPCIS subscription delivery worker: reads each stream subscription's new events from the
store into the outbox, and POSTs the outbox's documents to the subscribers.

Matching: for each stream subscription (its row locked, so two workers never read the same
one at once), the events recorded after its cursor and below the outbox's watermark that match
its named query in its owner's view (store/epcis_query.py) become one delivery of at most
DELIVERY_MAX_EVENTS events, in id order. Sending: each delivery is leased to one worker, built
again from the store (an event its owner may no longer see is left out), signed (GS1-Signature,
core/epcis/webhook_signature.py) and POSTed without following redirects, to the address the
destination check resolved; 2xx marks it delivered, anything else retries it with capped
exponential backoff, never giving up. At least once: a worker that dies after the POST and
before recording it leaves the delivery to be sent again under the same `ct:deliveryID`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.delivery_settings import DeliverySettings
from api.errors import FieldError
from api.named_query import event_query_of
from api.routes.epcis_query import VERSION_HEADERS
from api.webhook_dest import DestRefused, check_dest
from core.epcis.events import iso_ms
from core.epcis.extension import CT_NAMESPACE, EPCIS_CONTEXT
from core.epcis.hashing import event_id
from core.epcis.query_schedule import parse_schedule
from core.epcis.webhook_signature import SIGNATURE_HEADER, sign
from store.db import read_transaction, session_factory, transaction
from store.epcis_query import EventQuery, query_events, viewer_of
from store.models import Event, NamedQuery, Principal, Subscription
from store.models.types import utcnow
from store.subscription_outbox import (
    Claimed,
    claim_due,
    due_schedules,
    enqueue,
    lock_subscription,
    mark_delivered,
    mark_failed,
    pending_of,
    safe_watermark,
    stream_subscriptions,
)

_LOGGER = logging.getLogger(__name__)
RESPONSE_CAP = 4096  # bytes of a subscriber's answer read at most (then the connection closes)
_CLAIM = 32
_FIRE_WINDOWS = 10  # watermark windows one scheduled run reads in one round, at most
TOTAL_TIMEOUTS = 3  # a whole POST, answer included, within this many DELIVERY_TIMEOUT_SECONDS


@dataclass
class DeliveryReport:
    """What one round did."""

    enqueued: int = 0  # new deliveries
    delivered: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status: int | None
    error: str


class DeliveryWorker:
    """Matches stream subscriptions and sends their deliveries until stopped."""

    def __init__(
        self, settings: DeliverySettings, engine: Engine, *, name: str | None = None
    ) -> None:
        self.settings = settings
        self.sessions = session_factory(engine)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        timeout = settings.delivery_timeout_seconds
        # Each operation of a POST (connect, write, each read) within `timeout`, and the whole
        # POST within TOTAL_TIMEOUTS of them: a subscriber answering a byte at a time is cut off.
        self._timeout = httpx.Timeout(timeout)
        self._total = timeout * TOTAL_TIMEOUTS
        # A lease outlives the whole POST, so no second worker sends a delivery whose first
        # send is still running.
        self._lease = timedelta(seconds=self._total * 2 + 30)

    def run(self) -> None:
        """Rounds until stop(); a round that fails is logged and the loop goes on."""
        while not self._stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                _LOGGER.exception("delivery round failed")
                report = DeliveryReport()
            if not (report.enqueued or report.delivered or report.failed):
                self._stop.wait(self.settings.delivery_poll_seconds)

    def stop(self) -> None:
        """End run() after the current round."""
        self._stop.set()

    def run_once(self) -> DeliveryReport:
        """Match every stream subscription once, then send what is due."""
        report = DeliveryReport()
        report.enqueued = self.match() + self.fire()
        report.delivered, report.failed = self.send_due()
        return report

    # -- matching ---------------------------------------------------------------------------

    def match(self) -> int:
        """New deliveries for the events recorded since each stream subscription's cursor."""
        with read_transaction(self.sessions) as session:
            ids = stream_subscriptions(session)
        made = 0
        for row_id in ids:
            try:
                with transaction(self.sessions) as session:
                    made += self._match_one(session, row_id)
            except Exception:
                _LOGGER.exception("subscription %d: matching failed", row_id)
        return made

    def _match_one(self, session: Session, row_id: int) -> int:
        subscription = lock_subscription(session, row_id)
        if subscription is None or self._room(session, subscription) <= 0:
            return 0  # deleted, another worker reads it now, or its subscriber is behind
        reading = self._reading(session, subscription)
        if reading is None:
            return 0
        principal, query, mark = reading
        found, cursor = self._read(session, principal, query, subscription.cursor_event_id, mark)
        return 0 if enqueue(session, subscription, found, cursor) is None else 1

    def fire(self) -> int:
        """Run the scheduled subscriptions that are due: a delivery of every matching event
        recorded since the last run (an empty one if none and reportIfEmpty)."""
        with read_transaction(self.sessions) as session:
            ids = due_schedules(session)
        made = 0
        for row_id in ids:
            try:
                with transaction(self.sessions) as session:
                    made += self._fire_one(session, row_id)
            except Exception:
                _LOGGER.exception("subscription %d: scheduled run failed", row_id)
        return made

    def _fire_one(self, session: Session, row_id: int) -> int:
        subscription = lock_subscription(session, row_id)
        now = utcnow()
        due = None if subscription is None else subscription.next_run_at
        if subscription is None or subscription.schedule is None or due is None or due > now:
            return 0
        room = self._room(session, subscription)
        if room <= 0:
            return 0  # the run waits, due, until its subscriber has taken some of its backlog
        following = parse_schedule(subscription.schedule).next_after(now)
        reading = self._reading(session, subscription)
        if reading is None:
            subscription.next_run_at = following
            return 0
        principal, query, mark = reading
        gap_wait = timedelta(seconds=self.settings.delivery_gap_wait_seconds)
        made, cursor = 0, subscription.cursor_event_id
        for _window in range(_FIRE_WINDOWS):
            while True:
                found, cursor = self._read(session, principal, query, cursor, mark)
                first_empty = not made and subscription.report_if_empty
                if enqueue(session, subscription, found, cursor, if_empty=first_empty) is not None:
                    made += 1
                if made >= room:
                    return made  # the run stays due: it reads on from the cursor next round
                if cursor >= mark:
                    break
            mark = safe_watermark(session, cursor, gap_wait=gap_wait)
            if mark == cursor:  # read up to now: this run is done
                subscription.next_run_at = following
                return made
        return made  # a long read: the run stays due and reads on next round

    def _room(self, session: Session, subscription: Subscription) -> int:
        """How many more undelivered documents the subscription may have (a subscriber that
        is down or refuses never grows the outbox past DELIVERY_MAX_PENDING)."""
        return self.settings.delivery_max_pending - pending_of(session, subscription.id)

    def _reading(
        self, session: Session, subscription: Subscription
    ) -> tuple[Principal, EventQuery, int] | None:
        """The owner, the query and how far the events may be read now; None if the
        subscription cannot read (its owner disabled, its query no longer valid)."""
        principal = session.get(Principal, subscription.principal_id)
        named = session.get(NamedQuery, subscription.query_id)
        if principal is None or named is None or principal.disabled_at is not None:
            return None
        gap_wait = timedelta(seconds=self.settings.delivery_gap_wait_seconds)
        mark = safe_watermark(session, subscription.cursor_event_id, gap_wait=gap_wait)
        try:
            query = event_query_of(named.params)
        except FieldError as exc:
            _LOGGER.error("named query %d no longer valid: %s", named.id, exc)
            return None
        start = subscription.initial_record_time
        if query.ge_record_time is None or query.ge_record_time < start:
            query = replace(query, ge_record_time=start)
        return principal, query, mark

    def _read(
        self, session: Session, principal: Principal, query: EventQuery, cursor: int, mark: int
    ) -> tuple[list[int], int]:
        """The ids of the matching visible events in (cursor, mark], at most the document's
        bound, and how far that read."""
        viewer = viewer_of(session, principal)
        limit = self.settings.delivery_max_events
        found: list[int] = []
        while True:
            # Scanning mark - cursor rows reaches the mark (ids are distinct): none past it
            # (but the rest of a chunk) is read, however rarely the query matches.
            page = query_events(
                session,
                viewer,
                query,
                after=cursor,
                per_page=limit - len(found),
                scan_limit=max(1, mark - cursor),
            )
            for record in page.records:
                if record.event.id > mark:
                    return found, mark
                found.append(record.event.id)
                if len(found) == limit:
                    return found, record.event.id
            if page.after is None or page.after >= mark:
                return found, mark
            cursor = page.after

    # -- sending ----------------------------------------------------------------------------

    def send_due(self) -> tuple[int, int]:
        """Send the due deliveries (each the oldest of its subscription); (delivered, failed)."""
        with transaction(self.sessions) as session:
            claimed = claim_due(session, self.name, lease=self._lease, limit=_CLAIM)
        if not claimed:
            return 0, 0
        with ThreadPoolExecutor(self.settings.delivery_parallel) as pool:
            results = list(pool.map(self._deliver, claimed))
        return sum(results), len(results) - sum(results)

    def _deliver(self, claimed: Claimed) -> bool:
        try:
            prepared = self._prepare(claimed)
            outcome = (
                _Outcome(True, None, "") if prepared is None else self._post(claimed, *prepared)
            )
        except Exception as exc:  # one bad delivery never stops the others
            _LOGGER.exception("delivery %s failed", claimed.delivery_id)
            outcome = _Outcome(False, None, f"{type(exc).__name__}: {exc}")
        with transaction(self.sessions) as session:
            if outcome.ok:
                notified = outcome.status is not None  # else: nothing of it was left to send
                mark_delivered(session, claimed, self.name, outcome.status, notified=notified)
            else:
                mark_failed(
                    session,
                    claimed,
                    self.name,
                    retry_in=self.settings.backoff(claimed.attempts),
                    status=outcome.status,
                    error=outcome.error,
                )
        if not outcome.ok:
            _LOGGER.warning(
                "delivery %s (attempt %d): %s", claimed.delivery_id, claimed.attempts, outcome.error
            )
        return outcome.ok

    def _prepare(self, claimed: Claimed) -> tuple[str, str | None, bytes] | None:
        """(dest, signatureToken, body) of the delivery; None if nothing is left to send."""
        with read_transaction(self.sessions) as session:
            subscription = session.get(Subscription, claimed.subscription_id)
            if subscription is None:
                return None
            named = session.get(NamedQuery, subscription.query_id)
            principal = session.get(Principal, subscription.principal_id)
            if named is None or principal is None:
                return None
            if principal.disabled_at is not None:
                raise PermissionError("the subscription's owner is disabled")
            events = _visible_events(session, principal, claimed.event_ids)
            if not events and not subscription.report_if_empty:
                return None
            document = _document(claimed, subscription, named, events)
            body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            return subscription.dest, subscription.signature_token, body

    def _post(self, claimed: Claimed, dest: str, token: str | None, body: bytes) -> _Outcome:
        try:
            target = check_dest(
                dest,
                allow_private=self.settings.webhook_allow_private,
                allow_loopback=self.settings.allow_loopback,
            )
        except DestRefused as exc:
            return _Outcome(False, None, f"destination refused: {exc}")
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "Idempotency-Key": claimed.delivery_id,
            **VERSION_HEADERS,
        }
        if token is not None:
            headers[SIGNATURE_HEADER] = sign(token, body)
        extensions: dict[str, Any] = {}
        if target.sni_hostname is not None:
            extensions["sni_hostname"] = target.sni_hostname
        try:
            status = asyncio.run(self._exchange(target.url, headers, body, extensions))
        except TimeoutError:
            return _Outcome(False, None, f"Timeout: no whole answer within {self._total:g} s")
        except httpx.HTTPError as exc:
            return _Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= status < 300:
            return _Outcome(True, status, "")
        return _Outcome(False, status, f"HTTP {status}")

    async def _exchange(
        self, url: str, headers: dict[str, str], body: bytes, extensions: dict[str, Any]
    ) -> int:
        """POST `body` and read at most RESPONSE_CAP bytes of the answer, all within the
        total deadline; the answer's status."""
        async with (
            asyncio.timeout(self._total),
            httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,  # no proxy or netrc from the environment
                timeout=self._timeout,
            ) as client,
        ):
            request = client.build_request(
                "POST", url, content=body, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                read = 0
                async for chunk in response.aiter_raw(1024):  # its body means nothing to us
                    read += len(chunk)
                    if read >= RESPONSE_CAP:
                        break
            finally:
                await response.aclose()
            return response.status_code


def _visible_events(
    session: Session, principal: Principal, event_ids: list[int]
) -> list[dict[str, Any]]:
    """The events of the delivery that `principal` may see now, in id order."""
    rows = session.execute(select(Event.id, Event.event_hash).where(Event.id.in_(event_ids))).all()
    if not rows:
        return []
    wanted = {int(i) for i, _ in rows}
    query = EventQuery(event_hashes=tuple(bytes(h) for _, h in rows))
    page = query_events(
        session, viewer_of(session, principal), query, after=None, per_page=len(rows) * 2
    )
    out: list[dict[str, Any]] = []
    for record in sorted(page.records, key=lambda r: r.event.id):
        if record.event.id in wanted:
            body: dict[str, Any] = json.loads(record.event.event_json)
            body.setdefault("eventID", event_id(record.event.event_hash))
            out.append(body)
    return out


def _document(
    claimed: Claimed,
    subscription: Subscription,
    named: NamedQuery,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """The EPCISQueryDocument of a delivery: `ct:deliveryID` stays the same on every retry."""
    return {
        "@context": [EPCIS_CONTEXT, {"ct": CT_NAMESPACE}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_ms(datetime.now(UTC)),
        "ct:deliveryID": claimed.delivery_id,
        "epcisBody": {
            "queryResults": {
                "queryName": named.name,
                "subscriptionID": subscription.subscription_id,
                "resultsBody": {"eventList": events},
            }
        },
    }
