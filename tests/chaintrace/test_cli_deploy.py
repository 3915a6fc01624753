"""`chaintrace deploy` on a chain that already has releases upgrades beside them; it never
redeploys what holds deposits and roots (found by review: it used to start over)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from chain.clients import TraceAnchorV2Client
from chain.releases import ESCROW_V1, ESCROW_V2, TRACE_ANCHOR_V1, TRACE_ANCHOR_V2
from chain.toolchain.deploy import deploy, save_deployment
from chain.transactions import sender_for
from chaintrace.cli import app
from tests.utils.anvil import (  # noqa: F401 (pytest fixtures)
    ChainEnv,
    anvil_node,
    chain_env,
    chain_snapshot,
)


def test_deploy_upgrades_a_recorded_chain_and_keeps_its_releases(
    chain_snapshot: ChainEnv,  # noqa: F811 (the fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = chain_snapshot
    deployer = Account.create()  # not a public test key: this is not dev mode
    sender_for(env.w3, env.deployer).send(deployer.address, b"", value=10**19)
    roles = (env.admin.address, env.anchorer.address, env.oracle.address)
    old = deploy(env.w3, env.deployer, *roles, escrow_v2=False)
    path = tmp_path / "deployments.json"
    save_deployment(old, path)
    monkeypatch.setenv("CHAIN_RPC_URL", env.node.rpc_url)
    monkeypatch.setenv("DEPLOYMENTS_FILE", str(path))
    monkeypatch.setenv("DEPLOYER_PRIVATE_KEY", "0x" + bytes(deployer.key).hex())
    monkeypatch.delenv("CHAINTRACE_DEV", raising=False)
    args = [
        "deploy",
        "--admin",
        roles[0],
        "--anchorer",
        roles[1],
        "--oracle",
        roles[2],
        "--registrar",
        env.stranger.address,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    entry = next(iter(json.loads(path.read_text()).values()))
    assert (entry["trace_anchor"], entry["shipment_escrow"]) == (
        old.trace_anchor,
        old.shipment_escrow,
    )
    names = {(r["name"], r["version"]) for r in entry["releases"]}
    every = (TRACE_ANCHOR_V1, ESCROW_V1, ESCROW_V2, TRACE_ANCHOR_V2)
    assert names == {(spec.name, spec.version) for spec in every}
    # Brand onboarding goes to its own registrar, not to the (timelocked) admin.
    v2 = next(r for r in entry["releases"] if (r["name"], r["version"]) == ("TraceAnchor", 2))
    anchor = TraceAnchorV2Client(env.w3, v2["address"])
    assert anchor.has_role(anchor.registrar_role(), env.stranger.address)
    assert not anchor.has_role(anchor.registrar_role(), roles[0])
    assert not anchor.has_role(anchor.registrar_role(), deployer.address)
