"""core.evidence against @openzeppelin/merkle-tree (StandardMerkleTree, ["bytes32", "bytes32"])."""

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
from eth_utils.crypto import keccak

from core.errors import MerkleError
from core.evidence import EVIDENCE_V1, ZERO_ROOT, evidence_leaf, evidence_root, evidence_tree
from core.merkle import verify

REPO = Path(__file__).resolve().parents[2]
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree"

# Reads {"cases": [[[evidenceV1, digest], ...], ...]} on stdin, prints root/leaf hashes/proofs.
_ORACLE = """
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).cases.map((values) => {
  const tree = StandardMerkleTree.of(values, ["bytes32", "bytes32"]);
  const dumped = tree.dump();
  return {
    root: tree.root,
    leafHashes: dumped.values.map((v) => dumped.tree[v.treeIndex]),
    proofs: values.map((_, i) => tree.getProof(i)),
  };
});
process.stdout.write(JSON.stringify(results));
"""


def _openzeppelin(cases: list[list[bytes]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not on PATH: cannot run the @openzeppelin/merkle-tree reference"
    elif not OZ_PACKAGE.is_dir():
        reason = f"{OZ_PACKAGE} is missing: run `npm ci`"
    if reason is not None:
        if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required tool unavailable: {reason}")
        pytest.skip(reason)
    assert node is not None
    request = {
        "cases": [[["0x" + EVIDENCE_V1.hex(), "0x" + d.hex()] for d in case] for case in cases]
    }
    # --input-type=module from the repo root: the import resolves in ./node_modules.
    done = subprocess.run(
        [node, "--input-type=module", "-e", _ORACLE],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def _hex(items: list[bytes]) -> list[str]:
    return ["0x" + item.hex() for item in items]


def test_evidence_v1_is_keccak_of_the_domain_tag() -> None:
    assert keccak(text="chaintrace.evidence.v1") == EVIDENCE_V1


def test_leaf_is_double_keccak_of_abi_encode() -> None:
    rng = random.Random(1)
    for _ in range(20):
        digest = rng.randbytes(32)
        encoded = abi_encode(["bytes32", "bytes32"], [EVIDENCE_V1, digest])
        assert evidence_leaf(digest) == keccak(keccak(encoded))


def test_tree_root_and_proofs_equal_openzeppelin() -> None:
    rng = random.Random(11)
    sizes = (1, 2, 3, 4, 5, 7, 8, 9, 64, 255, 256, 257, 1000)
    cases = [[rng.randbytes(32) for _ in range(n)] for n in sizes]
    for digests, ref in zip(cases, _openzeppelin(cases), strict=True):
        tree = evidence_tree(digests)
        leaves = [evidence_leaf(d) for d in digests]
        assert _hex(leaves) == ref["leafHashes"]
        assert "0x" + tree.root.hex() == ref["root"]
        assert evidence_root(digests) == tree.root
        for i, leaf in enumerate(leaves):
            assert _hex(tree.proof_at(i)) == ref["proofs"][i]
            assert verify(tree.root, leaf, tree.proof_at(i))


def test_root_does_not_depend_on_reading_order() -> None:
    rng = random.Random(5)
    digests = [rng.randbytes(32) for _ in range(17)]
    shuffled = digests[:]
    rng.shuffle(shuffled)
    assert evidence_root(digests) == evidence_root(shuffled)


def test_no_evidence_is_the_zero_root() -> None:
    assert evidence_root([]) == ZERO_ROOT == bytes(32)
    with pytest.raises(MerkleError, match="at least one"):
        evidence_tree([])


def test_a_digest_is_never_a_leaf_of_the_reading_tree() -> None:
    # Domain separation: the same 32 bytes give different leaves here and as a raw leaf.
    digest = bytes(range(32))
    assert evidence_tree([digest]).root == evidence_leaf(digest) != digest


@pytest.mark.parametrize(
    ("digests", "message"),
    [
        ([bytes(31)], "must be 32 bytes, got 31"),
        (["0x" + "00" * 32], "must be bytes"),
        ([b"\x01" * 32, b"\x01" * 32], "appears twice"),
        (bytes(32), "not one value"),
    ],
)
def test_bad_input_is_refused(digests: Any, message: str) -> None:
    with pytest.raises(MerkleError, match=message):
        evidence_root(digests)
    with pytest.raises(MerkleError, match=message):
        evidence_tree(digests)
    if isinstance(digests, list) and len(digests) == 1:
        with pytest.raises(MerkleError, match=message):
            evidence_leaf(digests[0])
