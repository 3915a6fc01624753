"""Versioned deployments: committed release artifacts, and v2 deployed beside a live v1.

The upgrade test starts where the previous release left a chain: TraceAnchor v1 and
ShipmentEscrow v1 deployed from their committed artifacts, recorded in the deployments file in
that release's flat format, a shipment funded and a batch anchored. Upgrading adds
ShipmentEscrow v2 and touches nothing else: the v1 shipment settles through v1, the old proof
verifies, and a new shipment funds on v2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chain import solidity_errors as se
from chain.clients import (
    ShipmentEscrowClient,
    ShipmentEscrowV2Client,
    ShipmentState,
    ShipmentStateV2,
    TraceAnchorClient,
    TraceAnchorV2Client,
)
from chain.releases import (
    ESCROW_V1,
    ESCROW_V2,
    RELEASES,
    TRACE_ANCHOR_V1,
    freeze,
    release_artifact,
    runtime_code_hash,
    strip_metadata,
)
from chain.toolchain.compile import compile_contracts
from chain.toolchain.deploy import chain_identity, deploy, ensure_deployed, load_deployment
from core import eip712
from core.merkle import MerkleTree, leaf_hash
from iot_gateway.gateway import reading_domain
from iot_gateway.settings import GatewaySettings
from tests.chain.terms_v2 import signatures, terms_v2
from tests.utils.anvil import ChainEnv, first_release, increase_time, latest_timestamp


@pytest.mark.parametrize("spec", RELEASES, ids=lambda s: f"{s.name}.v{s.version}")
def test_released_source_still_compiles_to_its_artifact(spec: Any) -> None:
    """Editing a released contract's code (not its comments) must be a new version instead."""
    committed = release_artifact(spec)
    today = compile_contracts()[spec.contract]
    assert strip_metadata(today.deployed_bytecode) == strip_metadata(committed.deployed_bytecode)
    assert today.abi == committed.abi
    # Keyed by AST node ids, which shift when another source joins the build: the positions count.
    assert _positions(today) == _positions(committed)


def _positions(artifact: Any) -> list[tuple[int, int]]:
    refs = artifact.immutable_references.values()
    return sorted((int(r["start"]), int(r["length"])) for group in refs for r in group)


def test_strip_metadata_removes_only_the_cbor_tail() -> None:
    code = release_artifact(ESCROW_V1).deployed_bytecode
    stripped = strip_metadata(code)
    tail = code[len(stripped) :]
    assert tail[0] == 0xA2  # a CBOR map of two entries (ipfs, solc)
    assert int.from_bytes(tail[-2:], "big") == len(tail) - 2
    assert strip_metadata(b"\x00") == b"\x00"


def test_freeze_never_rewrites_a_committed_artifact() -> None:
    before = {s: s.path.read_bytes() for s in RELEASES}
    compiled = compile_contracts()
    swapped = {s.contract: compiled["TraceAnchor"] for s in RELEASES}  # wrong code for all
    assert freeze(swapped) == []
    assert {s: s.path.read_bytes() for s in RELEASES} == before


def _legacy_entry(env: ChainEnv, anchor: Any, escrow: Any) -> dict[str, Any]:
    """The deployments-file entry exactly as the previous release wrote it (flat keys)."""
    chain_id, genesis = chain_identity(env.w3)
    return {
        "chain_id": chain_id,
        "genesis_hash": genesis,
        "trace_anchor": anchor.address,
        "shipment_escrow": escrow.address,
        "trace_anchor_block": anchor.block,
        "shipment_escrow_block": escrow.block,
        "trace_anchor_tx": anchor.tx,
        "shipment_escrow_tx": escrow.tx,
        "deployer": env.deployer.address,
    }


def test_upgrade_keeps_v1_serving_and_new_shipments_use_v2(
    env: ChainEnv, make_terms: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    roles = (env.admin.address, env.anchorer.address, env.oracle.address)
    old = deploy(env.w3, env.deployer, *roles, escrow_v2=False)
    assert old.shipment_escrow_v2 is None
    path = tmp_path / "deployments.json"
    entry = _legacy_entry(env, old.release(TRACE_ANCHOR_V1), old.release(ESCROW_V1))
    path.write_text(json.dumps({old.key: entry}))
    assert load_deployment(env.w3, path) == old

    # Under the previous release: a v1 shipment funded, a batch anchored.
    anchor = TraceAnchorClient(env.w3, old.trace_anchor)
    escrow_v1 = ShipmentEscrowClient(env.w3, old.shipment_escrow)
    values = make_terms()
    terms = eip712.Terms.from_json(
        {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in values.items()}
    )
    domain_v1 = escrow_v1.domain()
    escrow_v1.send_fund(
        env.buyer,
        terms,
        eip712.sign(terms, domain_v1, env.buyer.key),
        eip712.sign(terms, domain_v1, env.payee.key),
    )
    leaves = [(0, os.urandom(32), os.urandom(32)) for _ in range(3)]
    tree = MerkleTree.build([leaf_hash(*leaf) for leaf in leaves])
    anchor.send_anchor(env.anchorer, tree.root, len(leaves))
    proof = tree.proof(leaf_hash(*leaves[1]))

    # The upgrade: what `chaintrace up` / the demo do on start.
    new = ensure_deployed(env.w3, env.deployer, *roles, path=path)
    assert new.trace_anchor == old.trace_anchor
    assert new.shipment_escrow == old.shipment_escrow
    assert new.shipment_escrow_v2 is not None
    assert load_deployment(env.w3, path) == new
    written = json.loads(path.read_text())[new.key]
    assert {k: written[k] for k in entry} == entry  # the previous release can still read it
    v2_release = new.release(ESCROW_V2)
    assert v2_release is not None
    assert v2_release.code_hash == runtime_code_hash(release_artifact(ESCROW_V2))
    assert ensure_deployed(env.w3, env.deployer, *roles, path=path) == new  # once only

    # The v1 shipment settles through v1; the old proof verifies.
    assert anchor.verify(0, leaves[1][1], leaves[1][2], proof)
    attestation = eip712.DeliveryAttestation(
        shipment_id=terms.shipment_id,
        terms_hash=eip712.terms_hash(terms),
        evidence_root=os.urandom(32),
        excursion_minutes=0,
        delivered_at=latest_timestamp(env.w3),
    )
    oracle_sig = eip712.sign(attestation, domain_v1, env.oracle.key)
    escrow_v1.send_attest(env.oracle, attestation, oracle_sig)
    increase_time(env.w3, terms.dispute_window)
    escrow_v1.send_settle(env.oracle, terms.shipment_id)
    assert escrow_v1.shipment(terms.shipment_id).state is ShipmentState.SETTLED
    assert escrow_v1.owed(env.payee.address) == terms.amount

    # A new shipment uses v2, whose readings domain is the same TraceAnchor.
    escrow_v2 = ShipmentEscrowV2Client(env.w3, new.shipment_escrow_v2)
    assert escrow_v2.trace_anchor() == old.trace_anchor
    carrier = env.stranger
    new_terms = terms_v2(
        now=latest_timestamp(env.w3),
        buyer=env.buyer.address,
        payee=env.payee.address,
        carrier=carrier.address,
        arbiter=env.admin.address,
        oracle=env.oracle.address,
        devices=[carrier.address],
    )
    sigs = signatures(new_terms, escrow_v2.domain(), env.buyer, env.payee, carrier)
    with pytest.raises(se.EscrowV2InvalidSignature):  # the carrier's signature is required
        escrow_v2.send_fund(env.buyer, new_terms, sigs[0], sigs[1], sigs[0])
    escrow_v2.send_fund(env.buyer, new_terms, *sigs)
    view = escrow_v2.shipment(new_terms.shipment_id)
    assert (view.state, view.carrier, view.amount) == (
        ShipmentStateV2.FUNDED,
        carrier.address,
        new_terms.amount,
    )
    assert escrow_v2.hash_terms(new_terms) == eip712.terms_hash(new_terms) == view.terms_hash
    # v1 terms are not v2 terms: the v1 escrow knows nothing of the v2 shipment.
    assert escrow_v1.shipment(new_terms.shipment_id).state is ShipmentState.NONE


def test_v2_roles_after_deploy(env: ChainEnv) -> None:
    """Deployed as in production (2-day admin delay): the oracle holds ORACLE_ROLE on escrow v2,
    the admin is a guardian there and the registrar on TraceAnchor v2, the anchorer anchors, the
    deployer keeps no role, and each v2's admin role waits for the admin to accept it."""
    roles = (env.admin.address, env.anchorer.address, env.oracle.address)
    fresh = deploy(env.w3, env.deployer, *roles)
    escrow_v2, anchor_v2 = fresh.shipment_escrow_v2, fresh.trace_anchor_v2
    assert escrow_v2 is not None and anchor_v2 is not None
    escrow = ShipmentEscrowV2Client(env.w3, escrow_v2)
    assert escrow.has_role(escrow.oracle_role(), env.oracle.address)
    assert escrow.has_role(escrow.guardian_role(), env.admin.address)
    assert not escrow.has_role(escrow.oracle_role(), env.admin.address)
    anchor = TraceAnchorV2Client(env.w3, anchor_v2)
    assert anchor.has_role(anchor.registrar_role(), env.admin.address)
    assert not anchor.has_role(anchor.registrar_role(), env.deployer.address)
    assert anchor.has_role(anchor.anchorer_role(), env.anchorer.address)
    for client in (escrow, anchor):
        pending = client.contract.functions.pendingDefaultAdmin().call()
        assert pending[0] == env.admin.address  # accepted by the admin after the delay
        assert client.contract.functions.defaultAdminDelay().call() == 2 * 24 * 3600


def test_a_release_at_the_wrong_address_is_refused(env: ChainEnv, tmp_path: Path) -> None:
    from dataclasses import replace

    from chain.errors import DeploymentNotFound
    from chain.toolchain.deploy import save_deployment

    path = tmp_path / "deployments.json"
    v2 = env.deployment.release(ESCROW_V2)
    assert v2 is not None
    save_deployment(
        env.deployment.with_release(replace(v2, address=env.deployment.shipment_escrow)), path
    )
    with pytest.raises(DeploymentNotFound, match=r"ShipmentEscrow v2 .* different code"):
        load_deployment(env.w3, path)
    save_deployment(env.deployment.with_release(replace(v2, code_hash="0x" + "00" * 32)), path)
    with pytest.raises(DeploymentNotFound, match="code hash"):
        load_deployment(env.w3, path)


def test_trace_anchor_v2_joins_beside_v1_whose_roots_brands_and_readings_stay_valid(
    env: ChainEnv, tmp_path: Path
) -> None:
    """A chain recorded by the previous release gets TraceAnchor v2 beside v1: v1's roots keep
    verifying on v1, its unrevoked brands are registered on v2, and readings keep the v1 domain
    (devices in the field are not reconfigured)."""
    roles = (env.admin.address, env.anchorer.address, env.oracle.address)
    path = tmp_path / "deployments.json"
    old, v1 = first_release(env, path)
    v1.send_register_brand(env.admin, env.brand.address, "9520001")
    v1.send_register_brand(env.admin, env.stranger.address, "9530001")
    v1.send_revoke_brand(env.admin, env.stranger.address)
    v1.send_register_brand(env.admin, env.buyer.address, "95200011")  # nested: v1 allowed it
    leaves = [(0, os.urandom(32), os.urandom(32)) for _ in range(2)]
    tree = MerkleTree.build([leaf_hash(*leaf) for leaf in leaves])
    message = eip712.Commissioning(brand=env.brand.address, root=tree.root, leaf_count=2)
    signature = eip712.sign(message, v1.domain(), env.brand.key)
    v1.send_anchor_commissioning(env.anchorer, tree.root, 2, env.brand.address, signature)
    reading = eip712.Reading(
        device=env.payee.address,
        seq=1,
        taken_at_ms=1_700_000_000_000,
        temperature_centi_c=450,
        humidity_centi_pct=0,
        shock_milli_g=0,
        lat_e7=0,
        lon_e7=0,
    )
    reading_sig = eip712.sign(reading, v1.domain(), env.payee.key)

    new = ensure_deployed(env.w3, env.deployer, *roles, path=path)
    assert new.trace_anchor_v2 is not None and new.roots_anchor.version == 2
    assert load_deployment(env.w3, path) == new
    v2 = TraceAnchorV2Client(env.w3, new.trace_anchor_v2)
    assert v2.brand_of("9520001") == env.brand.address
    assert v2.brand_of("9530001") is None  # revoked on v1: not carried over
    assert v2.brand_of("95200011") is None  # nested under 9520001: v2 refuses it, logged
    assert v1.brand_of("95200011") == env.buyer.address  # v1 is not touched
    # v1's root verifies on v1 (not on v2, where it was never anchored), its signer recorded.
    proof = tree.proof(leaf_hash(*leaves[0]))
    assert v1.verify(0, leaves[0][1], leaves[0][2], proof)
    assert not v2.verify(0, leaves[0][1], leaves[0][2], proof)
    assert v1.root_info(tree.root).brand == env.brand.address
    # Readings: the gateway's domain stays v1's (the first release's flat key), and a reading
    # signed under it recovers to its device; escrow v2 checks dispute evidence against v1.
    written = json.loads(path.read_text())[new.key]
    assert written["trace_anchor"] == old.trace_anchor
    settings = GatewaySettings(
        chaintrace_dev=True,
        database_url="sqlite://",
        mqtt_url="mqtt://127.0.0.1:1883",
        reading_chain_id=new.chain_id,
        reading_verifying_contract=written["trace_anchor"],
    )
    assert eip712.recover(reading, reading_domain(settings), reading_sig) == env.payee.address
    assert v1.reading_digest(reading) == eip712.reading_digest(reading, reading_domain(settings))
    assert new.shipment_escrow_v2 is not None
    assert ShipmentEscrowV2Client(env.w3, new.shipment_escrow_v2).trace_anchor() == v1.address
