"""Escrow v2 EIP-712 types and devicesRoot against the pinned vector, ethers and OpenZeppelin."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from core.abi_values import int_bounds
from core.device_set import (
    DEVICES_V1,
    MAX_DEVICES,
    device_leaf,
    device_proof,
    devices_root,
    devices_tree,
    is_member,
)
from core.eip712 import (
    ESCROW_DOMAIN_NAME,
    MESSAGE_TYPES,
    DeliveryAttestation,
    DeliveryAttestationV2,
    MutualRelease,
    Terms,
    TermsV2,
    digest,
    escrow_domain,
    escrow_domain_v2,
    recover,
    sign,
    struct_hash,
    terms_hash,
    typed_data,
)
from core.errors import Eip712Error, MerkleError
from core.keccak import keccak

REPO = Path(__file__).resolve().parents[2]
VECTOR_PATH = REPO / "tests" / "vectors" / "escrow_v2.json"
VECTOR: dict[str, Any] = json.loads(VECTOR_PATH.read_text())
ETHERS_SCRIPT = REPO / "tests" / "core" / "eip712_v2_ethers.mjs"
NODE_MODULES = REPO / "node_modules"


def _h(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def vector_terms() -> TermsV2:
    # The vector keeps amount as a JSON string (JavaScript would round it); from_json is strict.
    return TermsV2.from_json({**VECTOR["terms"], "amount": int(VECTOR["terms"]["amount"])})


def vector_domain() -> Any:
    d = VECTOR["domain"]
    return escrow_domain_v2(d["chainId"], d["verifyingContract"])


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required tool unavailable: {reason}")
    pytest.skip(reason)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _skip_or_fail("node is not on PATH: cannot run the ethers / OpenZeppelin reference")
    for package in ("ethers", "@openzeppelin/merkle-tree"):
        if not (NODE_MODULES / package).is_dir():
            _skip_or_fail(f"node_modules/{package} is missing: run `npm ci`")
    assert node is not None
    return node


# --- the pinned vector, reproduced by core ------------------------------------------------


def test_v2_type_strings_and_hashes_are_the_vector_s() -> None:
    assert VECTOR["typeStrings"]["Terms"] == TermsV2.TYPE_STRING
    assert VECTOR["typeStrings"]["DeliveryAttestation"] == DeliveryAttestationV2.TYPE_STRING
    assert "0x" + TermsV2.TYPE_HASH.hex() == VECTOR["typeHashes"]["Terms"]
    assert (
        "0x" + DeliveryAttestationV2.TYPE_HASH.hex() == VECTOR["typeHashes"]["DeliveryAttestation"]
    )
    assert MutualRelease.TYPE_STRING == "MutualRelease(bytes32 shipmentId,uint256 payout)"
    # v2 shares the primary type names with v1; only the domain version tells them apart.
    assert TermsV2.TYPE_NAME == Terms.TYPE_NAME == "Terms"
    assert DeliveryAttestationV2.TYPE_NAME == DeliveryAttestation.TYPE_NAME
    assert TermsV2.TYPE_HASH != Terms.TYPE_HASH
    assert {TermsV2, DeliveryAttestationV2, MutualRelease} <= set(MESSAGE_TYPES)


def test_v2_domain() -> None:
    domain = vector_domain()
    assert domain.to_json() == VECTOR["domain"]
    assert (domain.name, domain.version) == (ESCROW_DOMAIN_NAME, "2")
    v1 = escrow_domain(domain.chain_id, domain.verifying_contract)
    assert v1.version == "1" and v1 != domain


def test_terms_hash_and_digest_are_the_vector_s() -> None:
    terms = vector_terms()
    assert terms.to_json() == {**VECTOR["terms"], "amount": int(VECTOR["terms"]["amount"])}
    assert "0x" + terms_hash(terms).hex() == VECTOR["termsHash"]
    assert "0x" + digest(terms, vector_domain()).hex() == VECTOR["termsDigest"]


def test_attestation_digest_is_the_vector_s() -> None:
    attestation = DeliveryAttestationV2.from_json(VECTOR["attestation"])
    assert attestation.terms_hash == terms_hash(vector_terms())
    assert "0x" + digest(attestation, vector_domain()).hex() == VECTOR["attestationDigest"]


def test_signatures_are_the_vector_s_and_recover_to_the_signer() -> None:
    domain = vector_domain()
    terms = vector_terms()
    attestation = DeliveryAttestationV2.from_json(VECTOR["attestation"])
    for msg, key in ((terms, "termsSignature"), (attestation, "attestationSignature")):
        signature = _h(VECTOR[key])
        assert recover(msg, domain, signature) == VECTOR["signer"]
        # RFC 6979 signatures are deterministic: core signs the very same bytes.
        assert sign(msg, domain, VECTOR["signerKey"]) == signature
        # The same signature under the v1 domain names someone else.
        v1 = escrow_domain(domain.chain_id, domain.verifying_contract)
        assert recover(msg, v1, signature) != VECTOR["signer"]


def test_devices_root_is_the_vector_s() -> None:
    assert "0x" + DEVICES_V1.hex() == VECTOR["DEVICES_V1"]
    assert "0x" + devices_root(VECTOR["devices"]).hex() == VECTOR["terms"]["devicesRoot"]
    # Order and case of the list do not matter: the tree sorts its leaves.
    reordered = [d.lower() for d in reversed(VECTOR["devices"])]
    assert devices_root(reordered) == devices_root(VECTOR["devices"])


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from([TermsV2, DeliveryAttestationV2, MutualRelease]).flatmap(
        lambda cls: st.fixed_dictionaries({f.attr: _value(f.sol_type) for f in cls.FIELDS}).map(
            lambda kw: cls(**kw)
        )
    ),
    st.integers(1, 2**64),
)
def test_v2_hashes_equal_eth_account(msg: Any, chain_id: int) -> None:
    domain = escrow_domain_v2(chain_id, VECTOR["domain"]["verifyingContract"])
    signable = encode_typed_data(full_message=json.loads(json.dumps(typed_data(msg, domain))))
    assert struct_hash(msg) == signable.body
    assert digest(msg, domain) == _hash_eip191_message(signable)


def _value(sol_type: str) -> st.SearchStrategy[Any]:
    if sol_type == "address":
        return st.binary(min_size=20, max_size=20).map(to_checksum_address)
    if sol_type == "bytes32":
        return st.binary(min_size=32, max_size=32)
    lo, hi = int_bounds(sol_type)
    return st.integers(lo, hi) | st.sampled_from([lo, hi, 0])


def test_mutual_release_signs_and_recovers() -> None:
    key = b"\x07" * 32
    release = MutualRelease(shipment_id=_h(VECTOR["terms"]["shipmentId"]), payout=10**18)
    signature = sign(release, vector_domain(), key)
    assert recover(release, vector_domain(), signature) == Account.from_key(key).address
    with pytest.raises(Eip712Error, match=r"MutualRelease\.payout must be uint256"):
        MutualRelease(shipment_id=b"\x00" * 32, payout=-1)


def test_v2_field_validation() -> None:
    fields = {**vector_terms().__dict__}
    with pytest.raises(Eip712Error, match=r"Terms\.destLatE7 must be int32"):
        TermsV2(**{**fields, "dest_lat_e7": 2**31})
    with pytest.raises(Eip712Error, match=r"Terms\.oracle must be a 0x-prefixed"):
        TermsV2(**{**fields, "oracle": "0x00"})
    attestation = {**DeliveryAttestationV2.from_json(VECTOR["attestation"]).__dict__}
    with pytest.raises(Eip712Error, match=r"DeliveryAttestation\.deliveryBasis must be uint8"):
        DeliveryAttestationV2(**{**attestation, "delivery_basis": 256})


# --- devicesRoot and membership proofs ------------------------------------------------------


def _addresses(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [to_checksum_address(rng.randbytes(20)) for _ in range(n)]


def test_device_leaf_is_the_abi_encoding() -> None:
    device = VECTOR["devices"][0]
    expected = keccak(keccak(abi_encode(["bytes32", "address"], [DEVICES_V1, device])))
    assert device_leaf(device) == expected


def test_device_proofs_verify_and_others_do_not() -> None:
    devices = _addresses(16, 1)
    root = devices_root(devices)
    for device in devices:
        assert is_member(root, device, device_proof(devices, device))
    stranger = _addresses(1, 2)[0]
    assert not is_member(root, stranger, device_proof(devices, devices[0]))
    with pytest.raises(MerkleError, match="not in the tree"):
        device_proof(devices, stranger)


def test_device_set_bounds() -> None:
    with pytest.raises(MerkleError, match="1 to 16 devices, got 0"):
        devices_root([])
    with pytest.raises(MerkleError, match="1 to 16 devices, got 17"):
        devices_root(_addresses(MAX_DEVICES + 1, 3))
    one = _addresses(1, 4)
    with pytest.raises(MerkleError, match="appears twice"):
        devices_root([one[0], one[0].lower()])
    with pytest.raises(MerkleError, match=r"devices\[0\] must be a 0x-prefixed"):
        devices_root(["0x1234"])
    with pytest.raises(MerkleError, match="not one value"):
        devices_root(one[0])
    # A single device: the root is its leaf, the proof empty.
    assert devices_root(one) == device_leaf(one[0]) and device_proof(one, one[0]) == []


_OZ_DEVICES = """
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { devicesV1, sets } = JSON.parse(input);
const results = sets.map((devices) => {
  const tree = StandardMerkleTree.of(devices.map((d) => [devicesV1, d]), ["bytes32", "address"]);
  const proofs = devices.map((_, i) => tree.getProof(i));
  return { root: tree.root, tree: tree.dump().tree, proofs };
});
process.stdout.write(JSON.stringify(results));
"""


def test_device_trees_equal_openzeppelin() -> None:
    node = _node()
    sets = [_addresses(n, n) for n in range(1, MAX_DEVICES + 1)]
    done = subprocess.run(
        [node, "--input-type=module", "-e", _OZ_DEVICES],
        input=json.dumps({"devicesV1": "0x" + DEVICES_V1.hex(), "sets": sets}),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    for devices, ref in zip(sets, json.loads(done.stdout), strict=True):
        tree = devices_tree(devices)
        assert "0x" + tree.root.hex() == ref["root"]
        assert tree.dump()["tree"] == ref["tree"]
        assert [["0x" + p.hex() for p in tree.proof_at(i)] for i in range(len(devices))] == ref[
            "proofs"
        ]


# --- ethers v6 ------------------------------------------------------------------------------


def test_ethers_reproduces_the_vector() -> None:
    node = _node()
    done = subprocess.run(
        [node, str(ETHERS_SCRIPT), str(VECTOR_PATH)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out == {
        "termsHash": VECTOR["termsHash"],
        "termsDigest": VECTOR["termsDigest"],
        "attestationDigest": VECTOR["attestationDigest"],
        "termsSigner": VECTOR["signer"],
        "attestationSigner": VECTOR["signer"],
    }
    # And what ethers computes is what core computes.
    assert out["termsDigest"] == "0x" + digest(vector_terms(), vector_domain()).hex()
