"""Liveness and metrics."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import Web3Exception

from api.deps import StateDep, require_role
from api.rate_limit import RateLimitCollector
from api.scan_counter import ScanCounterCollector
from api.state import AppState
from chain.errors import ChainError
from store import read_transaction
from store.at_risk import WINDOWS, open_escrows, store_now, summarize
from store.models import AnchorBatch, Event, Item, Leaf, Role, Shipment

_LOGGER = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


# /healthz is public and unthrottled: the chain's state it reports is read at most this often,
# so a flood of health checks costs no RPC quota and cannot tie threads up on a slow node.
CHAIN_STATUS_TTL_S = 5.0


class _ChainStatus:
    """The chain part of /healthz, read from the node at most once per CHAIN_STATUS_TTL_S."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -CHAIN_STATUS_TTL_S
        self._value: dict[str, Any] = {}
        self.reads = 0  # node reads made, for tests

    def get(self, state: AppState) -> dict[str, Any]:
        with self._lock:  # one reader at a time; the others wait for its answer
            if time.monotonic() - self._at < CHAIN_STATUS_TTL_S:
                return dict(self._value)
            chain: dict[str, Any] = {"configured": state.chain.configured}
            if state.chain.w3 is not None:
                self.reads += 1
                try:
                    chain["blockNumber"] = int(state.chain.w3.eth.block_number)
                    chain["chainId"] = int(state.chain.w3.eth.chain_id)
                except (ChainError, Web3Exception, OSError, ValueError) as exc:
                    chain["error"] = f"unreachable: {type(exc).__name__}"
            self._value, self._at = chain, time.monotonic()
            return dict(chain)


def chain_status(request: Request) -> _ChainStatus:
    """The application's cached chain status (made on first use)."""
    status: _ChainStatus | None = getattr(request.app.state, "chain_status", None)
    if status is None:
        status = request.app.state.chain_status = _ChainStatus()
    return status


@router.get("/healthz")
def healthz(request: Request, state: StateDep) -> JSONResponse:
    """Whether the API and its database answer; the chain's state (read at most every 5 s) is
    reported, not required."""
    body: dict[str, Any] = {"status": "ok"}
    try:
        with read_transaction(state.sessions) as session:
            session.execute(text("SELECT 1"))
        body["database"] = "ok"
    except SQLAlchemyError as exc:
        _LOGGER.warning("health check: database unreachable: %s", exc)
        body.update(status="unavailable", database="unreachable")
    body["chain"] = chain_status(request).get(state)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


class _StoreCollector(Collector):
    """Gauges read from the store on each scrape."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Read-only: on SQLite these counts then never hold the writers up.
        with read_transaction(self._sessions) as session:
            events = session.scalar(select(func.count()).select_from(Event)) or 0
            items = session.scalar(select(func.count()).select_from(Item)) or 0
            pending = session.scalar(select(func.count()).where(Leaf.batch_id.is_(None))) or 0
            batches = session.execute(
                select(AnchorBatch.status, func.count()).group_by(AnchorBatch.status)
            ).all()
            shipments = session.execute(
                select(Shipment.status, func.count()).group_by(Shipment.status)
            ).all()
            at_risk = summarize(open_escrows(session), store_now(session))
        yield GaugeMetricFamily("chaintrace_events", "Events recorded", value=events)
        yield GaugeMetricFamily("chaintrace_items", "Serialised items", value=items)
        yield GaugeMetricFamily(
            "chaintrace_pending_leaves", "Leaves waiting in the outbox", value=pending
        )
        by_batch = GaugeMetricFamily(
            "chaintrace_anchor_batches", "Anchor batches by status", labels=["status"]
        )
        for batch_status, count in batches:
            by_batch.add_metric([str(batch_status)], count)
        yield by_batch
        by_shipment = GaugeMetricFamily(
            "chaintrace_shipments", "Shipments by status", labels=["status"]
        )
        for shipment_status, count in shipments:
            by_shipment.add_metric([str(shipment_status)], count)
        yield by_shipment
        # From the store alone (store/at_risk.py), so it shows while `chaintrace settle` is down.
        by_window = GaugeMetricFamily(
            "chaintrace_settlement_at_risk",
            "Funded shipments not attested, by time left to attest (deadline + refund grace): "
            "expired (refundable), 1h (0-1 h), 24h (1-24 h), later",
            labels=["window"],
        )
        for window in WINDOWS:
            by_window.add_metric([window], at_risk.counts[window])
        yield by_window
        least = at_risk.seconds_left_min
        yield GaugeMetricFamily(
            "chaintrace_settlement_seconds_to_deadline_min",
            "Least seconds left to attest a funded, unattested shipment not yet expired "
            "(+Inf: none)",
            value=float("inf") if least is None else least,
        )


class _ProcessCollector(Collector):
    """Facts of the serving process: its recursion bound (core.recursion), refused bodies."""

    def __init__(self, body_refusals: Counter[str]) -> None:
        self._body_refusals = body_refusals

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "chaintrace_api_recursion_limit",
            "sys.getrecursionlimit() of the API process (bounded so deep input cannot crash it)",
            value=sys.getrecursionlimit(),
        )
        refused = CounterMetricFamily(
            "chaintrace_api_bodies_refused",
            "Request bodies refused before parsing, by reason (too_large: 413, too_deep: 400)",
            labels=["reason"],
        )
        for reason in ("too_large", "too_deep"):
            refused.add_metric([reason], self._body_refusals[reason])
        yield refused


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_role(Role.ADMIN, Role.AUDITOR))],
)
def metrics(request: Request, state: StateDep) -> Response:
    """Prometheus metrics (admin or auditor key): events, items, leaves, batches, shipments,
    money at risk (funded shipments by time left to attest)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(state.sessions))
    registry.register(_ProcessCollector(request.app.state.body_refusals))
    registry.register(RateLimitCollector(state.rate_limits))
    registry.register(ScanCounterCollector(state.scans))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
