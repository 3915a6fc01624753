"""The chain workers as their processes make them, on the test chain and database."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from chain.anchoring.worker import AnchorWorker
from chain.settings import AnchorSettings, SettleSettings
from chain.settlement.worker import SettlementWorker
from chain.toolchain.deploy import Deployment
from tests.utils.anvil import ChainEnv


def anchor_worker(
    env: ChainEnv,
    db_url: str,
    sessions: sessionmaker[Session],
    *,
    account: LocalAccount | None = None,
    deployment: Deployment | None = None,
    lease_holder: str | None = None,
    **settings: Any,
) -> AnchorWorker:
    """`chaintrace anchor`: finality by confirmations, batches closed at once; `settings`
    override any AnchorSettings field."""
    values: dict[str, Any] = {
        "chaintrace_dev": True,
        "database_url": db_url,
        "chain_rpc_url": env.node.rpc_url,
        "finality": "confirmations",
        "max_batch_delay": 0,
        **settings,
    }
    return AnchorWorker(
        AnchorSettings(**values),
        sessions,
        env.w3,
        account or env.anchorer,
        deployment or env.deployment,
        lease_holder=lease_holder,
    )


def settlement_worker(
    env: ChainEnv,
    db_url: str,
    sessions: sessionmaker[Session],
    *,
    w3: Web3 | None = None,
    **settings: Any,
) -> SettlementWorker:
    """`chaintrace settle` with the oracle key; `w3`: its own connection (a separate process's
    nonce cache); `settings` override any SettleSettings field."""
    values: dict[str, Any] = {
        "chaintrace_dev": True,
        "database_url": db_url,
        "chain_rpc_url": env.node.rpc_url,
        **settings,
    }
    return SettlementWorker(
        SettleSettings(**values), sessions, w3 or env.w3, env.oracle, env.deployment
    )
