"""chain.toolchain.deploy: roles after deployment, the deployments file, code checks on load."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from chain.clients import ShipmentEscrowClient
from chain.errors import ChainValueError, DeploymentNotFound
from chain.releases import ESCROW_V1, TRACE_ANCHOR_V1, ReleaseSpec
from chain.toolchain.compile import compile_contracts
from chain.toolchain.deploy import (
    Deployment,
    chain_identity,
    code_matches,
    deploy,
    ensure_deployed,
    load_deployment,
    require_deployment,
    save_deployment,
)
from tests.utils.anvil import ChainEnv


def _moved(deployment: Deployment, spec: ReleaseSpec, address: str) -> Deployment:
    """The deployment with `spec`'s release recorded at another address."""
    release = deployment.release(spec)
    assert release is not None
    return deployment.with_release(replace(release, address=address))


def test_roles_after_deploy(env: ChainEnv) -> None:
    anchor, escrow = env.anchor, env.escrow
    admin_role = anchor.default_admin_role()
    assert anchor.has_role(admin_role, env.admin.address)
    assert anchor.has_role(anchor.anchorer_role(), env.anchorer.address)
    assert not anchor.has_role(admin_role, env.deployer.address)
    assert escrow.has_role(admin_role, env.admin.address)
    # The deployer held the escrow's admin role only to grant ORACLE_ROLE, then renounced it.
    assert not escrow.has_role(admin_role, env.deployer.address)
    assert escrow.has_role(escrow.oracle_role(), env.oracle.address)
    assert not escrow.has_role(escrow.oracle_role(), env.anchorer.address)


def test_deployment_record(env: ChainEnv) -> None:
    d = env.deployment
    chain_id, genesis = chain_identity(env.w3)
    assert (d.chain_id, d.genesis_hash) == (chain_id, genesis)
    assert d.key == f"{chain_id}:{genesis}"
    receipt = env.w3.eth.get_transaction_receipt(d.trace_anchor_tx)
    assert receipt["contractAddress"] == d.trace_anchor
    assert receipt["blockNumber"] == d.trace_anchor_block
    assert env.w3.eth.get_transaction_receipt(d.shipment_escrow_tx)["contractAddress"] == (
        d.shipment_escrow
    )


def test_save_and_load(env: ChainEnv, tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    assert load_deployment(env.w3, path) is None  # no file
    save_deployment(env.deployment, path)
    assert load_deployment(env.w3, path) == env.deployment
    assert require_deployment(env.w3, path) == env.deployment


def test_entry_of_another_genesis_is_ignored(env: ChainEnv, tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    other = replace(env.deployment, genesis_hash="0x" + "ab" * 32)
    save_deployment(other, path)
    assert load_deployment(env.w3, path) is None
    with pytest.raises(DeploymentNotFound, match="no deployment for chain"):
        require_deployment(env.w3, path)
    save_deployment(env.deployment, path)  # both entries kept side by side
    assert set(json.loads(path.read_text())) == {other.key, env.deployment.key}
    assert load_deployment(env.w3, path) == env.deployment


def test_wrong_address_fails(env: ChainEnv, tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    empty = _moved(env.deployment, TRACE_ANCHOR_V1, env.stranger.address)  # an EOA: no code
    save_deployment(empty, path)
    with pytest.raises(DeploymentNotFound, match=r"TraceAnchor .* has no code"):
        load_deployment(env.w3, path)
    swapped = _moved(
        _moved(env.deployment, TRACE_ANCHOR_V1, env.deployment.shipment_escrow),
        ESCROW_V1,
        env.deployment.trace_anchor,
    )
    save_deployment(swapped, path)
    with pytest.raises(DeploymentNotFound, match="different code"):
        load_deployment(env.w3, path)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_malformed_file(env: ChainEnv, tmp_path: Path, content: str) -> None:
    path = tmp_path / "deployments.json"
    path.write_text(content)
    with pytest.raises(ChainValueError):
        load_deployment(env.w3, path)


def test_malformed_entry(env: ChainEnv, tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    entry = env.deployment.to_json()
    entry["releases"][0]["address"] = "not an address"
    path.write_text(json.dumps({env.deployment.key: entry}))
    with pytest.raises(ChainValueError, match="malformed deployment entry"):
        load_deployment(env.w3, path)
    with pytest.raises(ChainValueError):
        Deployment.from_json("a string")


def test_code_matches_ignores_only_immutables(env: ChainEnv) -> None:
    artifact = compile_contracts()["TraceAnchor"]
    code = bytes(env.w3.eth.get_code(env.deployment.trace_anchor))
    assert code != artifact.deployed_bytecode  # immutables (EIP-712 domain cache) filled in
    assert code_matches(code, artifact)
    ref = next(iter(artifact.immutable_references.values()))[0]
    outside = next(i for i in range(len(code)) if not ref["start"] <= i < ref["start"] + 32)
    flipped = bytearray(code)
    flipped[outside] ^= 0xFF
    assert not code_matches(bytes(flipped), artifact)
    assert not code_matches(code[:-1], artifact)
    assert not code_matches(b"", artifact)


def test_ensure_deployed_reuses_then_replaces(env: ChainEnv, tmp_path: Path) -> None:
    path = tmp_path / "deployments.json"
    accts = (env.admin.address, env.anchorer.address, env.oracle.address)
    save_deployment(env.deployment, path)
    assert ensure_deployed(env.w3, env.deployer, *accts, path=path) == env.deployment
    save_deployment(_moved(env.deployment, ESCROW_V1, env.stranger.address), path)
    fresh = ensure_deployed(env.w3, env.deployer, *accts, path=path)
    assert fresh.trace_anchor != env.deployment.trace_anchor
    assert load_deployment(env.w3, path) == fresh


def test_deploy_with_deployer_as_admin_and_no_oracle(env: ChainEnv) -> None:
    d = deploy(
        env.w3, env.stranger, env.stranger.address, env.anchorer.address, None, escrow_v2=False
    )
    escrow = ShipmentEscrowClient(env.w3, d.shipment_escrow)
    assert escrow.has_role(escrow.default_admin_role(), env.stranger.address)
    assert not escrow.has_role(escrow.oracle_role(), env.oracle.address)
