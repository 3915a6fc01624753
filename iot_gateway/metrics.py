"""Prometheus counters of one gateway instance, in a registry it owns (never the global one)."""

from __future__ import annotations

import json
import threading
from typing import TypedDict
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from iot_gateway.payload import RejectReason

# Why the retention purge deleted dead letters: older than the retention, or beyond the newest N.
PURGE_RULES = ("age", "count")


class GatewayStats(TypedDict):
    """Counter values at one moment."""

    accepted: float
    rejected: dict[str, float]
    duplicates: float
    equivocations: float
    queue_depth: float
    queue_peak: float
    ack_latency_count: float
    ack_latency_sum_s: float
    batches: float
    write_errors: float
    rollup_events: float
    dead_letters_purged: dict[str, float]


class GatewayMetrics:
    """accepted, rejected{reason}, duplicates, equivocations, ack latency, queue depth, ..."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.accepted = Counter(
            "chaintrace_gateway_readings_accepted",
            "Readings verified and newly stored.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "chaintrace_gateway_readings_rejected",
            "Messages rejected before storage, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "chaintrace_gateway_readings_duplicate",
            "Valid readings whose (device, seq) was already stored.",
            registry=self.registry,
        )
        self.equivocations = Counter(
            "chaintrace_gateway_readings_equivocation",
            "Validly signed readings reusing a stored (device, seq) with another digest (alert).",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "chaintrace_gateway_queue_depth",
            "Messages parsed and waiting for the writer.",
            registry=self.registry,
        )
        self.queue_peak = Gauge(
            "chaintrace_gateway_queue_depth_peak",
            "The most messages ever waiting for the writer at once (bounded by queue_size).",
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "chaintrace_gateway_ack_latency_seconds",
            "From a message's arrival to its MQTT ack (after the database commit).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.batches = Counter(
            "chaintrace_gateway_batches_committed",
            "Database transactions committed by the writer.",
            registry=self.registry,
        )
        self.write_errors = Counter(
            "chaintrace_gateway_write_errors",
            "Batches whose transaction failed (messages stay unacknowledged).",
            registry=self.registry,
        )
        self.rollup_events = Counter(
            "chaintrace_gateway_rollup_events",
            "EPCIS ObjectEvents recorded from reading windows.",
            registry=self.registry,
        )
        self.dead_letters_purged = Counter(
            "chaintrace_gateway_dead_letters_purged",
            "Dead letters deleted by the retention purge, by rule (age or count).",
            ["rule"],
            registry=self.registry,
        )
        self.connected = Gauge(
            "chaintrace_gateway_connected",
            "1 while connected and subscribed.",
            registry=self.registry,
        )
        for reason in RejectReason:
            self.rejected.labels(reason=reason.value)
        for rule in PURGE_RULES:
            self.dead_letters_purged.labels(rule=rule)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def snapshot(self) -> GatewayStats:
        """Current values as plain numbers (for a JSON stats line and tests)."""
        prefix = "chaintrace_gateway_"
        rejected = {
            reason.value: self._sample(prefix + "readings_rejected_total", {"reason": reason.value})
            for reason in RejectReason
        }
        return {
            "accepted": self._sample(prefix + "readings_accepted_total"),
            "rejected": rejected,
            "duplicates": self._sample(prefix + "readings_duplicate_total"),
            "equivocations": self._sample(prefix + "readings_equivocation_total"),
            "queue_depth": self._sample(prefix + "queue_depth"),
            "queue_peak": self._sample(prefix + "queue_depth_peak"),
            "ack_latency_count": self._sample(prefix + "ack_latency_seconds_count"),
            "ack_latency_sum_s": self._sample(prefix + "ack_latency_seconds_sum"),
            "batches": self._sample(prefix + "batches_committed_total"),
            "write_errors": self._sample(prefix + "write_errors_total"),
            "rollup_events": self._sample(prefix + "rollup_events_total"),
            "dead_letters_purged": {
                rule: self._sample(prefix + "dead_letters_purged_total", {"rule": rule})
                for rule in PURGE_RULES
            },
        }

    def snapshot_json(self) -> str:
        """snapshot() as one JSON line."""
        return json.dumps(self.snapshot(), sort_keys=True)

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics over HTTP from this registry; returns the bound port."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._server, self._thread = server, thread
        return int(server.server_port)

    def close(self) -> None:
        """Stop the HTTP endpoint if it runs."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
