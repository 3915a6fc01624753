"""What the subscription tests share: a real HTTP receiver that checks GS1-Signature on its own
(stdlib hmac, not our code) and can go down and come back, the app with private destinations
allowed, and events recorded straight into the store."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.delivery_settings import DeliverySettings
from api.epcis_delivery import DeliveryWorker
from api.main import create_app
from api.settings import ApiSettings
from core.epcis.extension import event_context
from core.epcis.hashed_event import HashedEvent
from store.db import session_factory, transaction
from store.models import Role
from store.principals import create_api_key, create_principal
from store.recording import record_event
from tests.api.flows import PUBLIC_BASE_URL, auth, ok

TOKEN = "a-subscriber-secret-0123456789"


@dataclass
class Received:
    """One POST the receiver took."""

    delivery_id: str
    event_ids: list[str]
    signature_ok: bool
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that answers `status` (2xx: taken) after `delay` seconds,
    and while `hold` is set only once it is released (a minute at most)."""

    token: str = TOKEN
    status: int = 200
    delay: float = 0.0
    hold: threading.Event | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # status of every request, taken or not
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                status = receiver.status
                receiver.answered.append(status)
                if 200 <= status < 300:
                    expected = (
                        "sha256="
                        + hmac.new(receiver.token.encode(), raw, hashlib.sha256).hexdigest()
                    )
                    body = json.loads(raw)
                    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                    receiver.received.append(
                        Received(
                            body["ct:deliveryID"],
                            [e["eventID"] for e in events],
                            hmac.compare_digest(expected, self.headers.get("GS1-Signature", "")),
                            body,
                            dict(self.headers.items()),
                        )
                    )
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until start() again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def refuses(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) != 0

    def delivered_ids(self) -> list[str]:
        """Every event id received, in order, each delivery counted once (as a subscriber
        deduplicating by ct:deliveryID would)."""
        seen: set[str] = set()
        out: list[str] = []
        for item in self.received:
            if item.delivery_id not in seen:
                seen.add(item.delivery_id)
                out += item.event_ids
        return out


def serve(engine: Engine, tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    app_settings = ApiSettings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        public_base_url=PUBLIC_BASE_URL,
        deployments_file=tmp_path / "none.json",
        **settings,
    )
    with TestClient(create_app(app_settings, engine=engine)) as client:
        yield client


def principal(engine: Engine, name: str, role: Role = Role.BUYER) -> tuple[int, str]:
    """A principal and its API key, straight into the store."""
    with transaction(session_factory(engine)) as session:
        created = create_principal(session, name, role)
        return created.id, create_api_key(session, created.id, "test")


def observe(epc: str, step: str = "inspecting", when: str = "2026-01-02T10:00:00.000Z") -> Any:
    return {
        "@context": event_context(),
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc],
        "action": "OBSERVE",
        "bizStep": step,
    }


def record(engine: Engine, by: int, *events: dict[str, Any]) -> list[str]:
    """Store the events as recorded by principal `by`: their eventIDs (ni:///)."""
    ids: list[str] = []
    with transaction(session_factory(engine)) as session:
        for event in events:
            hashed = HashedEvent.of(event)
            record_event(session, hashed, recorded_by=by)
            ids.append(hashed.event_id)
    return ids


def create_query(client: TestClient, key: str, name: str, query: dict[str, Any]) -> None:
    response = client.post("/epcis/queries", json={"name": name, "query": query}, headers=auth(key))
    assert response.status_code == 201, response.text


def subscribe(client: TestClient, key: str, name: str, dest: str, **extra: Any) -> Any:
    body = {"dest": dest, "signatureToken": TOKEN, "stream": True, **extra}
    url = f"/epcis/queries/{name}/subscriptions"
    return ok(client.post(url, json=body, headers=auth(key)), 201)


def worker(engine: Engine, name: str = "w1", **overrides: Any) -> DeliveryWorker:
    values: dict[str, Any] = {
        "database_url": str(engine.url.render_as_string(hide_password=False)),
        "webhook_allow_private": True,
        "delivery_poll_seconds": 0.05,
        "delivery_timeout_seconds": 2.0,
        "delivery_backoff_base_seconds": 0.2,
        "delivery_backoff_cap_seconds": 1.0,
        "delivery_gap_wait_seconds": 5.0,
        **overrides,
    }
    return DeliveryWorker(DeliverySettings(**values), engine, name=name)


def until(check: Callable[[], bool], rounds: Callable[[], object], seconds: float = 20) -> None:
    """Run `rounds` until `check` holds (or fail after `seconds`)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        rounds()
        time.sleep(0.02)
