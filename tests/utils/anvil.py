"""Helpers for tests that need a real chain: a private anvil, deployed contracts, time travel.

Usage in a conftest.py:

    from tests.utils.anvil import anvil_node, chain_env, chain_snapshot  # noqa: F401 (fixtures)

`anvil_node` (session) starts anvil on a free port and stops it at the end; `chain_env`
(session) deploys both contracts with dev accounts in fixed roles; `chain_snapshot` (function)
reverts the chain after the test so tests do not see each other's transactions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.clients import ShipmentEscrowClient, TraceAnchorClient
from chain.clients.trace_anchor_v2 import anchor_client, trace_anchors
from chain.releases import release_artifact
from chain.toolchain.anvil import AnvilNode
from chain.toolchain.deploy import Deployment, deploy
from chain.transactions import resync_nonces, sender_for


@dataclass(frozen=True)
class ChainEnv:
    """A deployed chain with dev accounts in fixed roles (indices of anvil's dev mnemonic)."""

    node: AnvilNode
    w3: Web3
    deployment: Deployment
    deployer: LocalAccount  # 0
    admin: LocalAccount  # 1
    anchorer: LocalAccount  # 2
    oracle: LocalAccount  # 3
    brand: LocalAccount  # 4
    buyer: LocalAccount  # 5
    payee: LocalAccount  # 6
    stranger: LocalAccount  # 7

    @property
    def anchor(self) -> TraceAnchorClient:
        """The client of the TraceAnchor release new roots go to (v2 on a fresh deployment)."""
        release = self.deployment.roots_anchor
        return anchor_client(self.w3, release.version, release.address)

    @property
    def anchors(self) -> dict[int, TraceAnchorClient]:
        """A client per TraceAnchor release, by version (what the auditor checks against)."""
        return trace_anchors(self.w3, self.deployment.releases)

    @property
    def anchor_v1(self) -> TraceAnchorClient:
        """TraceAnchor v1's client (its roots keep verifying there)."""
        return TraceAnchorClient(self.w3, self.deployment.trace_anchor)

    @property
    def escrow(self) -> ShipmentEscrowClient:
        """ShipmentEscrow client."""
        return ShipmentEscrowClient(self.w3, self.deployment.shipment_escrow)


def first_release(env: ChainEnv, path: Path) -> tuple[Deployment, TraceAnchorClient]:
    """A deployment as the first release made it (TraceAnchor v1 and ShipmentEscrow v1 only),
    recorded in the deployments file `path`, and its TraceAnchor v1 client."""
    roles = (env.admin.address, env.anchorer.address, env.oracle.address)
    old = deploy(env.w3, env.deployer, *roles, escrow_v2=False)
    path.write_text(json.dumps({old.key: old.to_json()}))
    return old, TraceAnchorClient(env.w3, old.trace_anchor)


def connect(node: AnvilNode) -> Web3:
    """A Web3 over HTTP to the node."""
    return Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 30}))


def deploy_env(node: AnvilNode) -> ChainEnv:
    """Deploy both contracts on `node` (deployer 0, admin 1, anchorer 2, oracle 3)."""
    w3 = connect(node)
    accts = node.accounts(8)
    roles = (accts[1].address, accts[2].address, accts[3].address)
    # No admin delay, so the admin takes over the v2 releases at once (two-step, as in production).
    deployment = deploy(w3, accts[0], *roles, admin_delay=0)
    increase_time(w3, 1)
    sender = sender_for(w3, accts[1])
    for release in deployment.releases:
        if release.version >= 2:
            abi = release_artifact(release.spec).abi
            contract = w3.eth.contract(address=release.address, abi=abi)  # type: ignore[arg-type]
            sender.send(release.address, contract.encode_abi("acceptDefaultAdminTransfer", []))
    return ChainEnv(node, w3, deployment, *accts)


def snapshot(w3: Web3) -> str:
    """evm_snapshot: an id to revert to."""
    return str(w3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]


def revert(w3: Web3, snapshot_id: str) -> None:
    """evm_revert to a snapshot (consumed), then forget the local nonces that it undid."""
    reply = w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
    if reply.get("result") is not True:
        raise RuntimeError(f"evm_revert({snapshot_id}) failed: {reply}")
    resync_nonces(w3)


def increase_time(w3: Web3, seconds: int) -> int:
    """Move the chain clock forward and mine a block; returns the new block's timestamp."""
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return int(w3.eth.get_block("latest")["timestamp"])


def set_next_timestamp(w3: Web3, timestamp: int) -> None:
    """The next mined block gets exactly this timestamp."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


def latest_timestamp(w3: Web3) -> int:
    """Timestamp of the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="session")
def anvil_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """A private anvil for the test session (free port, log under the session tmp dir)."""
    log: Path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = AnvilNode.start(log_path=log)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def chain_env(anvil_node: AnvilNode) -> ChainEnv:
    """Both contracts deployed once per session on the private anvil."""
    return deploy_env(anvil_node)


@pytest.fixture
def chain_snapshot(chain_env: ChainEnv) -> Iterator[ChainEnv]:
    """chain_env, with every change the test makes reverted afterwards."""
    snap = snapshot(chain_env.w3)
    try:
        yield chain_env
    finally:
        revert(chain_env.w3, snap)
