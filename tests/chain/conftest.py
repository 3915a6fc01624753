"""Fixtures of the chain tests: a private anvil with both contracts deployed, terms factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.chain import typed_data
from tests.utils.anvil import (  # noqa: F401 (anvil_node, chain_env: pytest fixtures)
    ChainEnv,
    anvil_node,
    chain_env,
    latest_timestamp,
    revert,
    snapshot,
)
from tests.utils.terms import terms_abi

ETH = 10**18


@pytest.fixture
def env(chain_env: ChainEnv) -> Iterator[ChainEnv]:  # noqa: F811 (the fixture)
    """The deployed chain; every change a test makes is reverted after it."""
    snap = snapshot(chain_env.w3)
    try:
        yield chain_env
    finally:
        revert(chain_env.w3, snap)


@pytest.fixture
def make_terms(env: ChainEnv) -> Callable[..., dict[str, Any]]:
    """Terms between env.buyer and env.payee (ETH, deadline one day ahead); override any field."""

    def make(**overrides: Any) -> dict[str, Any]:
        return terms_abi(env, **overrides)

    return make


@pytest.fixture
def escrow_domain(env: ChainEnv) -> dict[str, Any]:
    """The EIP-712 domain of the deployed ShipmentEscrow."""
    return typed_data.domain(
        typed_data.ESCROW_DOMAIN_NAME, env.w3.eth.chain_id, env.deployment.shipment_escrow
    )


@pytest.fixture
def anchor_domain(env: ChainEnv) -> dict[str, Any]:
    """The EIP-712 domain of the deployed TraceAnchor."""
    return typed_data.domain(
        typed_data.ANCHOR_DOMAIN_NAME, env.w3.eth.chain_id, env.deployment.trace_anchor
    )
