"""Every platform process (gateway, anchor, settle, deliver, api) in one process, for `up` and
`demo`."""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from web3 import Web3

from api.chain_public import public_url
from api.delivery_settings import DeliverySettings
from api.epcis_delivery import DeliveryWorker
from api.main import create_app
from api.settings import ApiSettings
from chain.anchoring.worker import AnchorWorker
from chain.settings import AnchorSettings, SettleSettings
from chain.settlement.worker import SettlementWorker
from chain.toolchain.anvil import dev_accounts
from chain.toolchain.deploy import Deployment
from chaintrace.backfill import backfill_projections
from chaintrace.embedded import EmbeddedServices
from chaintrace.progress import StartupProgress
from chaintrace.wiring import load_settings
from iot_gateway.gateway import Gateway
from iot_gateway.settings import GatewaySettings
from store.db import make_engine, session_factory

_LOGGER = logging.getLogger(__name__)


class ApiPortUnavailable(RuntimeError):
    """The API cannot listen where API_HOST / API_PORT say (the port is taken, say)."""


def api_address() -> tuple[str, int]:
    """API_HOST and API_PORT from the environment; without API_PORT, 0: any free port."""
    settings = load_settings(ApiSettings, {"chaintrace_dev": True})
    return settings.api_host, settings.api_port if "api_port" in settings.model_fields_set else 0


def bind_api(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound now so a taken port fails before anything starts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen()  # with SO_REUSEADDR a second bind succeeds: only listen() is exclusive
    except OSError as exc:
        sock.close()
        hint = (
            "another process listens there: stop it, or set API_PORT to a free port "
            "(unset, `up` takes any free port)"
            if exc.errno == errno.EADDRINUSE
            else "check API_HOST and API_PORT"
        )
        raise ApiPortUnavailable(
            f"the API cannot listen on {host}:{port} ({exc.strerror}): {hint}"
        ) from None
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class _Runnable(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class Endpoints:
    """Where the platform's processes can be reached."""

    database_url: str
    chain_rpc_url: str
    mqtt_url: str
    mqtt_protocol: str
    deployment: Deployment
    deployments_file: Path

    @classmethod
    def of(cls, services: EmbeddedServices) -> Endpoints:
        """The endpoints of running embedded services."""
        return cls(
            services.database_url,
            services.rpc_url,
            services.mqtt_url,
            services.mqtt_protocol,
            services.deployment,
            services.deployments_file,
        )


def _browser_rpc(url: str) -> dict[str, str]:
    """PUBLIC_RPC_URL in dev mode: the item page's verifier asks the dev chain itself, when a
    browser may be sent there (https, or http on loopback)."""
    try:
        return {"public_rpc_url": public_url(url, "CHAIN_RPC_URL", query=True)}
    except ValueError:
        return {}


@dataclass
class Platform:
    """Runs the gateway, the anchoring, settlement and subscription delivery workers and the API
    as threads."""

    endpoints: Endpoints
    anchor_settings: AnchorSettings
    settle_settings: SettleSettings
    gateway_settings: GatewaySettings
    api_settings: ApiSettings
    delivery_settings: DeliverySettings
    api_socket: socket.socket | None = None
    api_url: str = ""  # where the API answers (127.0.0.1 when it listens on every interface)
    gateway: Gateway | None = None
    workers: list[_Runnable] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _server: uvicorn.Server | None = None

    @classmethod
    def for_dev(
        cls,
        endpoints: Endpoints,
        *,
        public_base_url: str | None = None,
        overrides: dict[str, Any] | None = None,
        api_socket: socket.socket | None = None,
    ) -> Platform:
        """Settings for every process in dev mode from the embedded endpoints (env still wins).

        The API listens on `api_socket`, else where API_HOST / API_PORT say (any free port
        without API_PORT); ApiPortUnavailable if it cannot.
        """
        if api_socket is None:
            api_socket = bind_api(*api_address())
        host, api_port = api_socket.getsockname()[:2]
        api_url = f"http://{_url_host(host)}:{api_port}"
        common: dict[str, Any] = {
            "chaintrace_dev": True,
            "database_url": endpoints.database_url,
            "chain_rpc_url": endpoints.chain_rpc_url,
            "deployments_file": endpoints.deployments_file,
            **(overrides or {}),
        }
        anchorer, oracle = dev_accounts(3)[1:3]
        anchor = load_settings(
            AnchorSettings, {**common, "anchorer_private_key": anchorer.key.hex()}
        )
        settle = load_settings(SettleSettings, {**common, "oracle_private_key": oracle.key.hex()})
        gateway = load_settings(
            GatewaySettings,
            {
                **common,
                "mqtt_url": endpoints.mqtt_url,
                "protocol": endpoints.mqtt_protocol,
                "reading_chain_id": endpoints.deployment.chain_id,
                "reading_verifying_contract": endpoints.deployment.trace_anchor,
                "window_readings": 10,
                "rollup_interval_s": 1.0,
            },
        )
        api = load_settings(
            ApiSettings,
            {
                **common,
                "public_base_url": public_base_url or api_url,
                **_browser_rpc(endpoints.chain_rpc_url),
                "api_host": host,
                "api_port": api_port,
            },
        )
        deliver = load_settings(DeliverySettings, common)
        return cls(endpoints, anchor, settle, gateway, api, deliver, api_socket, api_url)

    def start(self, progress: StartupProgress | None = None) -> Platform:
        """Start every process and wait until the API answers and the gateway subscribed.

        Each step is reported on `progress`. If any part fails to start, what already started
        is stopped before the error propagates.
        """
        try:
            return self._start(progress or StartupProgress())
        except BaseException:
            self.stop()
            raise

    def _start(self, steps: StartupProgress) -> Platform:
        ep = self.endpoints
        w3 = Web3(Web3.HTTPProvider(ep.chain_rpc_url, request_kwargs={"timeout": 30}))
        engine = make_engine(ep.database_url)
        with steps.step("gateway") as step:
            self.gateway = Gateway(self.gateway_settings, engine=engine)
            self.gateway.start()
            if not self.gateway.ready.wait(30):
                raise RuntimeError("the gateway did not subscribe to the broker")
            step.detail = "subscribed to the broker's reading topics"
        with steps.step("projections") as step:
            # Kind 2 leaves of events recorded before them: made once, in the background (a
            # large store must not hold startup); idempotent, so every start may run it.
            t = threading.Thread(
                target=_backfill, args=(engine,), name="backfill-projections", daemon=True
            )
            t.start()
            self._threads.append(t)
            step.detail = "older events' kind 2 leaves backfilled in the background"
        with steps.step("workers") as step:
            anchor = AnchorWorker(
                self.anchor_settings, engine, w3, self.anchor_settings.load_account(), ep.deployment
            )
            settle = SettlementWorker(
                self.settle_settings, engine, w3, self.settle_settings.load_account(), ep.deployment
            )
            deliver = DeliveryWorker(self.delivery_settings, engine)
            self.workers += [anchor, settle, deliver]
            for worker in self.workers:
                t = threading.Thread(target=worker.run, name=type(worker).__name__, daemon=True)
                t.start()
                self._threads.append(t)
            step.detail = (
                "anchoring (anchorer key), settlement (oracle key), EPCIS subscription delivery"
            )
        with steps.step("API") as step:
            self._serve_api(engine, w3)
            step.detail = self.api_url
        _LOGGER.info("platform up: api %s", self.api_url)
        return self

    def _serve_api(self, engine: Any, w3: Web3) -> None:
        assert self.api_socket is not None
        host, port = self.api_socket.getsockname()[:2]
        app = create_app(self.api_settings, engine=engine, w3=w3)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # TRUSTED_PROXIES decides (api/rate_limit.py)
        )
        self._server = server = uvicorn.Server(config)
        sockets = [self.api_socket]
        t = threading.Thread(target=lambda: server.run(sockets=sockets), name="api", daemon=True)
        t.start()
        self._threads.append(t)
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not t.is_alive():
                raise RuntimeError(f"the API did not start on {self.api_url}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the API, the workers and the gateway, and wait for their threads."""
        if self._server is not None:
            self._server.should_exit = True
        for worker in self.workers:
            worker.stop()
        if self.gateway is not None:
            self.gateway.stop()
        for t in self._threads:
            t.join(timeout=15)
        if self.api_socket is not None:
            self.api_socket.close()


def _backfill(engine: Any) -> None:
    """`chaintrace backfill-projections` in a thread; a failure is logged, never fatal (the
    command can be run again by hand)."""
    try:
        done = backfill_projections(session_factory(engine))
    except Exception:
        _LOGGER.exception("backfilling kind 2 leaves failed; run `chaintrace backfill-projections`")
        return
    if done.leaves:
        _LOGGER.info("backfilled %d kind 2 leaves of %d events", done.leaves, done.events)
