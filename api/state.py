"""What the app holds for its lifetime: settings, the session factory, the chain connection."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import Web3Exception

from api.answer_cache import AnswerCache
from api.errors import ChainUnavailable
from api.rate_limit import RateLimits
from api.scan_counter import ScanCounter
from api.settings import ApiSettings
from chain.anchoring.finality import FinalityTracker
from chain.errors import ChainError
from chain.toolchain.deploy import Deployment, load_deployment


@dataclass
class ChainAccess:
    """The optional chain: a Web3 connection and its verified deployment (loaded on first use)."""

    settings: ApiSettings
    w3: Web3 | None
    _deployment: Deployment | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _finality: FinalityTracker | None = None

    @property
    def configured(self) -> bool:
        """Whether a chain connection was given."""
        return self.w3 is not None

    def web3(self) -> Web3:
        """The connection, or ChainUnavailable (503) when none is configured."""
        if self.w3 is None:
            raise ChainUnavailable("no chain is configured (set CHAIN_RPC_URL)")
        return self.w3

    def deployment(self) -> Deployment:
        """The contracts on this chain, checked with eth_getCode once, then cached."""
        w3 = self.web3()
        with self._lock:
            if self._deployment is None:
                try:
                    found = load_deployment(w3, self.settings.deployments_file)
                except ChainError as exc:
                    raise ChainUnavailable(f"chain deployment unusable: {exc}") from None
                if found is None:
                    raise ChainUnavailable(
                        f"the contracts are not deployed on this chain "
                        f"(no entry in {self.settings.deployments_file})"
                    )
                self._deployment = found
            return self._deployment

    def finality_mode(self) -> str:
        """ "tag" or "confirmations": the policy `chaintrace anchor` applies under the same
        settings ("auto" asks the node once, then cached)."""
        w3 = self.web3()
        if self._finality is None:
            self._finality = FinalityTracker(
                w3, self.settings.finality, self.settings.confirmations
            )
        try:
            return self._finality.mode
        except (Web3Exception, OSError) as exc:
            raise ChainUnavailable(f"chain unreachable: {exc}") from None


@dataclass
class AppState:
    """Attached to app.state.chaintrace; the dependencies in api/deps.py read it."""

    settings: ApiSettings
    engine: Engine
    sessions: sessionmaker[Session]
    chain: ChainAccess
    rate_limits: RateLimits
    scans: ScanCounter
    answers: AnswerCache
    owns_engine: bool = False
