"""core.merkle against the reference @openzeppelin/merkle-tree, run in one node process."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.errors import MerkleError
from core.merkle import (
    LEAF_V1,
    MEMBER_V1,
    Kind,
    MerkleTree,
    hash_pair,
    leaf_hash,
    member_leaf_hash,
    process_proof,
    proof_from_nodes,
    verify,
)

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "tests" / "utils" / "oz_merkle.mjs"
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree"

Value = tuple[int, bytes, bytes]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required tool unavailable: {reason}")
    pytest.skip(reason)


class OzOracle:
    """Line-oriented JSON requests to tests/utils/oz_merkle.mjs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._proc = proc

    def build(self, cases: list[list[Value]], proofs: bool = True) -> list[dict[str, Any]]:
        request = {
            "cases": [
                {
                    "values": [
                        ["0x" + LEAF_V1.hex(), k, "0x" + e.hex(), "0x" + s.hex()]
                        for k, e, s in case
                    ],
                    "proofs": proofs,
                }
                for case in cases
            ]
        }
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        assert line, (
            f"oz_merkle.mjs exited: {self._proc.stderr.read() if self._proc.stderr else ''}"
        )
        answer = json.loads(line)
        assert "error" not in answer, answer["error"]
        results: list[dict[str, Any]] = answer["results"]
        return results


@pytest.fixture(scope="module")
def oz() -> Iterator[OzOracle]:
    node = shutil.which("node")
    if node is None:
        _skip_or_fail("node is not on PATH: cannot run the @openzeppelin/merkle-tree oracle")
    if not OZ_PACKAGE.is_dir():
        _skip_or_fail(f"{OZ_PACKAGE} is missing: run `npm ci`")
    assert node is not None
    proc = subprocess.Popen(
        [node, str(ORACLE)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield OzOracle(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def _random_values(size: int, seed: int) -> list[Value]:
    rng = random.Random(seed)
    values: list[Value] = []
    for _ in range(size):
        # Reuse an event hash now and then: corrections and re-anchoring share event hashes.
        event = rng.choice(values)[1] if values and rng.random() < 0.2 else rng.randbytes(32)
        values.append((rng.randrange(2), event, rng.randbytes(32)))
    return values


def _hex(items: list[bytes]) -> list[str]:
    return ["0x" + item.hex() for item in items]


def _assert_matches(values: list[Value], ref: dict[str, Any]) -> MerkleTree:
    leaves = [leaf_hash(k, e, s) for k, e, s in values]
    assert _hex(leaves) == ref["leafHashes"]
    tree = MerkleTree.build(leaves)
    assert "0x" + tree.root.hex() == ref["root"]
    assert tree.dump()["tree"] == ref["tree"]
    if ref["proofs"] is not None:
        blob = tree.nodes_blob()
        for i, leaf in enumerate(leaves):
            proof = tree.proof_at(i)
            assert _hex(proof) == ref["proofs"][i]
            assert tree.proof(leaf) == proof == proof_from_nodes(blob, leaf)
            assert verify(tree.root, leaf, proof)
    return tree


PINNED_SIZES = (1, 2, 3, 4, 5, 255, 256, 257, 300)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 2**64)), min_size=1, max_size=5))
@example([(size, size) for size in PINNED_SIZES])
def test_tree_root_nodes_and_proofs_equal_openzeppelin(
    oz: OzOracle, cases: list[tuple[int, int]]
) -> None:
    batch = [_random_values(size, seed) for size, seed in cases]
    for values, ref in zip(batch, oz.build(batch), strict=True):
        _assert_matches(values, ref)


def test_twenty_thousand_leaves_equal_openzeppelin(oz: OzOracle) -> None:
    values = _random_values(20_000, 7)
    (ref,) = oz.build([values], proofs=False)
    tree = _assert_matches(values, ref)
    assert len(tree) == 20_000


def test_hundred_thousand_leaves_proofs_verify() -> None:
    rng = random.Random(3)
    leaves = [rng.randbytes(32) for _ in range(100_000)]
    tree = MerkleTree.build(leaves)
    proofs = tree.proofs()
    for i in rng.sample(range(100_000), 2_000):
        assert process_proof(leaves[i], proofs[i]) == tree.root
        assert tree.proof(leaves[i]) == proofs[i] == tree.proof_at(i)
    blob = tree.nodes_blob()
    for i in rng.sample(range(100_000), 2_000):
        assert proof_from_nodes(blob, leaves[i]) == proofs[i]
    # Depth of a complete tree with 100,000 leaves is 16 or 17 (leaves on the last two levels).
    assert {len(p) for p in proofs} <= {16, 17}


def test_leaf_v1_is_keccak_of_the_domain_tag() -> None:
    assert keccak(text="chaintrace.leaf.v1") == LEAF_V1


@given(
    st.sampled_from([Kind.EVENT, Kind.ERROR_DECLARATION, Kind.PASSPORT]),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_leaf_hash_is_double_keccak_of_abi_encode(kind: Kind, event: bytes, salt: bytes) -> None:
    encoded = abi_encode(
        ["bytes32", "uint8", "bytes32", "bytes32"], [LEAF_V1, int(kind), event, salt]
    )
    assert leaf_hash(kind, event, salt) == keccak(keccak(encoded))


@given(
    st.sampled_from([Kind.EVENT, Kind.ERROR_DECLARATION]),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_member_leaf_hash_is_double_keccak_of_abi_encode(
    event_kind: Kind, projection: bytes, salt: bytes
) -> None:
    assert keccak(text="chaintrace.member.v1") == MEMBER_V1
    encoded = abi_encode(
        ["bytes32", "uint8", "uint8", "bytes32", "bytes32"],
        [MEMBER_V1, 2, int(event_kind), projection, salt],
    )
    leaf = member_leaf_hash(event_kind, projection, salt)
    assert leaf == keccak(keccak(encoded))
    # A kind 2 leaf never equals the LEAF_V1 leaf of the same hash and salt.
    assert leaf != leaf_hash(event_kind, projection, salt)


@pytest.mark.parametrize("event_kind", [2, 3, -1, True])
def test_member_leaf_hash_takes_only_event_kinds(event_kind: Any) -> None:
    with pytest.raises(MerkleError, match="kind must be"):
        member_leaf_hash(event_kind, bytes(32), bytes(32))


def test_leaf_hash_depends_on_kind_and_salt() -> None:
    event, salt = bytes(range(32)), bytes(32)
    assert leaf_hash(Kind.EVENT, event, salt) != leaf_hash(Kind.ERROR_DECLARATION, event, salt)
    assert leaf_hash(0, event, salt) != leaf_hash(0, event, b"\x01" + salt[1:])


@pytest.mark.parametrize(
    ("kind", "event", "salt", "message"),
    [
        (2, bytes(32), bytes(32), "kind must be one of"),  # kind 2 is member_leaf_hash's
        (4, bytes(32), bytes(32), "kind must be one of"),
        (-1, bytes(32), bytes(32), "kind must be one of"),
        (True, bytes(32), bytes(32), "kind must be an int"),
        ("0", bytes(32), bytes(32), "kind must be an int"),
        (0, bytes(31), bytes(32), "event_hash must be 32 bytes"),
        (0, bytes(32), bytes(33), "salt must be 32 bytes"),
        (0, "00" * 32, bytes(32), "event_hash must be bytes"),
    ],
)
def test_leaf_hash_rejects_bad_input(kind: Any, event: Any, salt: Any, message: str) -> None:
    with pytest.raises(MerkleError, match=message):
        leaf_hash(kind, event, salt)


def test_build_rejects_empty_duplicate_and_wrong_length() -> None:
    with pytest.raises(MerkleError, match="at least one leaf"):
        MerkleTree.build([])
    with pytest.raises(MerkleError, match="duplicate leaf 0x" + "ab" * 32):
        MerkleTree.build([b"\x01" * 32, b"\xab" * 32, b"\xab" * 32])
    with pytest.raises(MerkleError, match=r"leaves\[1\] must be 32 bytes, got 31"):
        MerkleTree.build([bytes(32), bytes(31)])
    with pytest.raises(MerkleError, match=r"leaves\[0\] must be bytes"):
        MerkleTree.build(["0x" + "00" * 32])  # type: ignore[list-item]
    with pytest.raises(MerkleError, match="not one value"):
        MerkleTree.build(bytes(64))  # type: ignore[arg-type]


def test_proof_lookup_errors() -> None:
    leaves = [bytes([i]) * 32 for i in range(1, 6)]
    tree = MerkleTree.build(leaves)
    with pytest.raises(MerkleError, match="not in the tree"):
        tree.proof(bytes(32))
    # An inner node is in the array but is not a leaf: no proof for it.
    with pytest.raises(MerkleError, match="not in the tree"):
        tree.proof(tree.nodes[1])
    with pytest.raises(MerkleError, match="out of range"):
        tree.proof_at(5)
    with pytest.raises(MerkleError, match="out of range"):
        tree.proof_at(-1)
    with pytest.raises(MerkleError, match="must be an int"):
        tree.proof_at(True)


def test_verify_rejects_tampering() -> None:
    leaves = [bytes([i]) * 32 for i in range(1, 8)]
    tree = MerkleTree.build(leaves)
    proof = tree.proof_at(2)
    assert verify(tree.root, leaves[2], proof)
    assert not verify(tree.root, leaves[3], proof)
    assert not verify(tree.root, leaves[2], proof[:-1])
    assert not verify(tree.root, leaves[2], [proof[0][:-1] + b"\x00", *proof[1:]])
    assert not verify(bytes(32), leaves[2], proof)
    with pytest.raises(MerkleError, match=r"proof\[0\] must be 32 bytes"):
        verify(tree.root, leaves[2], [b"\x00"])
    with pytest.raises(MerkleError, match="root must be 32 bytes"):
        verify(b"", leaves[2], proof)


def test_single_leaf_tree_is_its_own_root_with_empty_proof() -> None:
    leaf = leaf_hash(Kind.EVENT, bytes(32), bytes(32))
    tree = MerkleTree.build([leaf])
    assert tree.root == leaf
    assert tree.proof(leaf) == []
    assert verify(tree.root, leaf, [])


def test_hash_pair_is_commutative() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    assert hash_pair(a, b) == hash_pair(b, a) == keccak(a + b)


def test_dump_load_round_trip_and_tamper_detection() -> None:
    leaves = [leaf_hash(i % 2, bytes([i]) * 32, bytes([255 - i]) * 32) for i in range(9)]
    tree = MerkleTree.build(leaves)
    data = json.loads(json.dumps(tree.dump()))
    loaded = MerkleTree.load(data)
    assert loaded.root == tree.root and loaded.leaves == tree.leaves
    assert [v["treeIndex"] for v in data["values"]] == [tree.tree_index(leaf) for leaf in leaves]
    data["tree"][0] = "0x" + "00" * 32
    with pytest.raises(MerkleError, match="does not match"):
        MerkleTree.load(data)
    with pytest.raises(MerkleError, match="not a dumped Merkle tree"):
        MerkleTree.load({"tree": [], "values": [{"leaf": "0xzz"}]})
    with pytest.raises(MerkleError, match="not a dumped Merkle tree"):
        MerkleTree.load({"values": []})


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 600), st.integers(0, 2**32))
def test_proofs_from_the_stored_node_array_equal_the_trees(size: int, seed: int) -> None:
    rng = random.Random(seed)
    leaves = [rng.randbytes(32) for _ in range(size)]
    tree = MerkleTree.build(leaves)
    blob = tree.nodes_blob()
    assert blob == b"".join(tree.nodes) and len(blob) == 32 * (2 * size - 1)
    for leaf in leaves:
        assert proof_from_nodes(blob, leaf) == tree.proof(leaf)
    assert proof_from_nodes(bytearray(blob), leaves[0]) == tree.proof(leaves[0])
    # Absent: below, above and between the stored leaves, and an inner node.
    for absent in (bytes(32), b"\xff" * 32, rng.randbytes(32), tree.root):
        if absent not in leaves:
            with pytest.raises(MerkleError, match="not in the tree"):
                proof_from_nodes(blob, absent)


@pytest.mark.parametrize("blob", [b"", bytes(31), bytes(64), bytes(33 * 3)])
def test_a_stored_node_array_of_the_wrong_length_is_refused(blob: bytes) -> None:
    with pytest.raises(MerkleError, match="not a node array"):
        proof_from_nodes(blob, bytes(32))


def test_proof_from_nodes_refuses_what_is_not_bytes() -> None:
    with pytest.raises(MerkleError, match="nodes must be bytes"):
        proof_from_nodes("00" * 32, bytes(32))  # type: ignore[arg-type]
    with pytest.raises(MerkleError, match="leaf must be"):
        proof_from_nodes(bytes(32), bytes(31))
