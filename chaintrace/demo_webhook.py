"""The brand's EPCIS system in the demo: a named query of its items' shipping and receiving, a
stream subscription to it, and the webhook that takes the signed deliveries."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chaintrace.story import Story, StoryError
from core.epcis.webhook_signature import SIGNATURE_HEADER, verify

QUERY_NAME = "shipments"
STEPS = ("shipping", "receiving")


class DemoSubscriber:
    """A webhook on 127.0.0.1 (dev mode allows loopback) keeping the bizSteps of the events of
    every delivery whose GS1-Signature checks out."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(20)
        self.steps: list[str] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/epcis-webhook"

    def start(self) -> DemoSubscriber:
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = verify(subscriber.token, raw, self.headers.get(SIGNATURE_HEADER, ""))
                with subscriber._lock:
                    if signed:
                        body: dict[str, Any] = json.loads(raw)
                        events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                        subscriber.steps += [str(e.get("bizStep")) for e in events]
                    else:
                        subscriber.refused += 1
                self.send_response(204 if signed else 401)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def subscribe(self, story: Story) -> None:
        """The brand names a query of shipping and receiving events and subscribes to it."""
        headers = {"Authorization": f"Bearer {story.parties.brand_key}"}
        query = {"name": QUERY_NAME, "query": {"EQ_bizStep": list(STEPS)}}
        created = story.http.post("/epcis/queries", json=query, headers=headers)
        body = {"dest": self.url, "signatureToken": self.token, "stream": True}
        subscribed = story.http.post(
            f"/epcis/queries/{QUERY_NAME}/subscriptions", json=body, headers=headers
        )
        for response in (created, subscribed):
            if response.status_code != 201:
                raise StoryError(f"subscribing: {response.status_code} {response.text[:300]}")

    def got_every_step(self) -> bool:
        """Whether signed deliveries brought the shipment's shipping and receiving."""
        with self._lock:
            if self.refused:
                raise StoryError(f"{self.refused} deliveries failed the GS1-Signature check")
            return all(step in self.steps for step in STEPS)
