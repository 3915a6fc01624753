"""The API process: uvicorn serving create_app(settings), with run() / stop() for the CLI."""

from __future__ import annotations

import uvicorn
from sqlalchemy import Engine
from web3 import Web3

from api.main import create_app
from api.settings import ApiSettings
from chain.toolchain.deploy import Deployment


class ApiServer:
    """`chaintrace api`: run() serves until stop() (callable from another thread)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        engine: Engine | None = None,
        w3: Web3 | None = None,
        deployment: Deployment | None = None,
    ) -> None:
        self.settings = settings
        self.app = create_app(settings, engine=engine, w3=w3, deployment=deployment)
        config = uvicorn.Config(
            self.app,
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            lifespan="on",
            # The client address is the socket peer; only TRUSTED_PROXIES may say otherwise
            # (api/rate_limit.py), not uvicorn's own X-Forwarded-For rewriting.
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)

    @property
    def started(self) -> bool:
        """Whether the socket is bound and requests are being served."""
        return bool(self._server.started)

    @property
    def port(self) -> int:
        """The bound port (useful with api_port=0); 0 before the server started."""
        for server in getattr(self._server, "servers", []):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return 0

    def run(self) -> None:
        """Serve until stop() is called."""
        self._server.run()

    def stop(self) -> None:
        """Ask run() to finish its open requests and return."""
        self._server.should_exit = True
