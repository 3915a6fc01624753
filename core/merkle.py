"""CONSENSUS-CRITICAL: chaintrace leaf hash (v1) and OpenZeppelin StandardMerkleTree layout.

Changing anything here breaks every proof already issued (docs/formats.md): add a new
version instead. The tree is byte-identical to `@openzeppelin/merkle-tree` 1.x
(`StandardMerkleTree.of(values, ["bytes32", "uint8", "bytes32", "bytes32"])`): leaf hashes
sorted ascending, stored at the end of a flat array in reverse order, each inner node the
keccak256 of its two children sorted, proofs the sibling path from leaf to root. Proofs
verify with OpenZeppelin `MerkleProof.verify` (sorted pairs).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any

from core.errors import MerkleError
from core.hexstr import hex0x
from core.keccak import keccak

HASH_LEN = 32

LEAF_V1: bytes = keccak(b"chaintrace.leaf.v1")
MEMBER_V1: bytes = keccak(b"chaintrace.member.v1")

# The abi-encoded uint8 kind is a 32-byte word: 31 zero bytes then the kind.
_UINT8_PAD = bytes(31)


class Kind(IntEnum):
    """What a leaf commits to (formats.md "Leaf kinds"); never reused."""

    EVENT = 0
    ERROR_DECLARATION = 1
    PROJECTION = 2  # the public projection of one EPC of an event: member_leaf_hash
    PASSPORT = 3  # a product passport version (RFC 8785 canonical JSON hash)


# Kinds whose leaf is leaf_hash's (LEAF_V1); kind 2 has its own leaf, member_leaf_hash.
_LEAF_V1_KINDS = (Kind.EVENT, Kind.ERROR_DECLARATION, Kind.PASSPORT)


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise MerkleError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_LEN:
        raise MerkleError(f"{what} must be {HASH_LEN} bytes, got {len(value)}")
    return bytes(value)


def leaf_hash(kind: int, event_hash: bytes, salt: bytes) -> bytes:
    """keccak256(keccak256(abi.encode(LEAF_V1, uint8 kind, bytes32 eventHash, bytes32 salt)))
    for kinds 0, 1 and 3 (kind 2 is member_leaf_hash's)."""
    kind = _check_kind(kind, _LEAF_V1_KINDS)
    event_hash = _check_hash(event_hash, "event_hash")
    salt = _check_hash(salt, "salt")
    # abi.encode of four static 32-byte words is their plain concatenation (no offsets);
    # tests compare this against eth_abi.encode.
    encoded = LEAF_V1 + _UINT8_PAD + bytes((kind,)) + event_hash + salt
    return keccak(keccak(encoded))


def member_leaf_hash(event_kind: int, projection_hash: bytes, salt: bytes) -> bytes:
    """Kind 2: keccak256(keccak256(abi.encode(MEMBER_V1, uint8 2, uint8 eventKind,
    bytes32 projectionHash, bytes32 salt))), eventKind 0 or 1 (DESIGN "Public and private
    views")."""
    event_kind = _check_kind(event_kind, (Kind.EVENT, Kind.ERROR_DECLARATION))
    projection_hash = _check_hash(projection_hash, "projection_hash")
    salt = _check_hash(salt, "salt")
    encoded = MEMBER_V1 + _UINT8_PAD + bytes((Kind.PROJECTION,)) + _UINT8_PAD + bytes((event_kind,))
    return keccak(keccak(encoded + projection_hash + salt))


def _check_kind(kind: object, allowed: Sequence[Kind]) -> Kind:
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise MerkleError(f"kind must be an int, got {type(kind).__name__}")
    if kind not in allowed:
        raise MerkleError(f"kind must be one of {[k.value for k in allowed]}, got {kind}")
    return Kind(kind)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash: keccak256 of the two children sorted."""
    return keccak(a + b) if a <= b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root reached from `leaf` along `proof` (OpenZeppelin MerkleProof.processProof)."""
    node = _check_hash(leaf, "leaf")
    for i, sibling in enumerate(proof):
        node = hash_pair(node, _check_hash(sibling, f"proof[{i}]"))
    return node


def verify(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """True if `proof` links `leaf` to `root`; malformed input raises MerkleError."""
    return process_proof(leaf, proof) == _check_hash(root, "root")


class MerkleTree:
    """A StandardMerkleTree over already-hashed 32-byte leaves; immutable once built."""

    __slots__ = ("_input_tree_index", "_leaves", "_tree", "_tree_index_by_leaf")

    def __init__(self, tree: list[bytes], leaves: tuple[bytes, ...]) -> None:
        """Use MerkleTree.build or MerkleTree.load: this trusts its arguments."""
        self._tree = tree
        self._leaves = leaves
        n = len(tree)
        # Leaf hashes sorted ascending sit at tree[n-1], tree[n-2], ... in that order.
        self._tree_index_by_leaf = {tree[n - 1 - i]: n - 1 - i for i in range(len(leaves))}
        self._input_tree_index = [self._tree_index_by_leaf[leaf] for leaf in leaves]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build the tree; leaves keep their input order for proof_at()."""
        if isinstance(leaves, bytes | bytearray | str):
            raise MerkleError("leaves must be a sequence of 32-byte hashes, not one value")
        checked = tuple(_check_hash(leaf, f"leaves[{i}]") for i, leaf in enumerate(leaves))
        if not checked:
            raise MerkleError("a Merkle tree needs at least one leaf")
        ordered = sorted(checked)
        for prev, cur in itertools.pairwise(ordered):
            if prev == cur:
                # OpenZeppelin would keep both and prove only one; a salted leaf never repeats.
                raise MerkleError(f"duplicate leaf 0x{cur.hex()}")
        n = 2 * len(ordered) - 1
        tree: list[bytes] = [b""] * n
        for i, leaf in enumerate(ordered):
            tree[n - 1 - i] = leaf
        for i in range(n - 1 - len(ordered), -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tree, checked)

    @classmethod
    def load(cls, data: dict[str, Any]) -> MerkleTree:
        """Rebuild from dump() output, checking every node; raises MerkleError if invalid."""
        try:
            leaves = [bytes.fromhex(_strip0x(v["leaf"])) for v in data["values"]]
            stored = [bytes.fromhex(_strip0x(node)) for node in data["tree"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise MerkleError(f"not a dumped Merkle tree: {exc}") from None
        tree = cls.build(leaves)
        if stored != tree._tree:
            raise MerkleError("dumped tree does not match its leaves")
        return tree

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return self._tree[0]

    @property
    def leaves(self) -> tuple[bytes, ...]:
        """The leaves in input order."""
        return self._leaves

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The flat node array, root first (StandardMerkleTree's `tree`)."""
        return tuple(self._tree)

    def __len__(self) -> int:
        return len(self._leaves)

    def __contains__(self, leaf: object) -> bool:
        return leaf in self._tree_index_by_leaf

    def tree_index(self, leaf: bytes) -> int:
        """Position of `leaf` in the node array."""
        try:
            return self._tree_index_by_leaf[leaf]
        except (KeyError, TypeError):
            raise MerkleError("leaf is not in the tree") from None

    def proof(self, leaf: bytes) -> list[bytes]:
        """Sibling hashes from `leaf` up to the root."""
        return self._path(self.tree_index(leaf))

    def proof_at(self, index: int) -> list[bytes]:
        """Proof for the leaf at `index` in the input order of build()."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise MerkleError(f"index must be an int, got {type(index).__name__}")
        if not 0 <= index < len(self._leaves):
            raise MerkleError(f"index {index} out of range for {len(self._leaves)} leaves")
        return self._path(self._input_tree_index[index])

    def proofs(self) -> list[list[bytes]]:
        """Every leaf's proof, in input order."""
        return [self._path(i) for i in self._input_tree_index]

    def _path(self, i: int) -> list[bytes]:
        return _sibling_path(i, self._tree.__getitem__)

    def nodes_blob(self) -> bytes:
        """The flat node array as one byte string (32 bytes a node): what a store keeps."""
        return b"".join(self._tree)

    def dump(self) -> dict[str, Any]:
        """JSON-ready form: `tree` equals StandardMerkleTree.dump().tree (0x-hex)."""
        return {
            "format": "chaintrace-merkle-v1",
            "tree": [hex0x(node) for node in self._tree],
            "values": [
                {"leaf": hex0x(leaf), "treeIndex": idx}
                for leaf, idx in zip(self._leaves, self._input_tree_index, strict=True)
            ],
        }


def _sibling_path(i: int, node: Callable[[int], bytes]) -> list[bytes]:
    """Sibling hashes from tree index i up to the root, in a flat node array."""
    path: list[bytes] = []
    while i > 0:
        # Left children have odd indices, their siblings sit right after them.
        path.append(node(i + 1) if i % 2 else node(i - 1))
        i = (i - 1) // 2
    return path


def proof_from_nodes(nodes: bytes, leaf: bytes) -> list[bytes]:
    """The proof of `leaf` in a tree kept as MerkleTree.nodes_blob(): O(log n), no rebuild.

    The leaves sit sorted at the end of the array (the smallest last), so `leaf` is found by
    binary search. Raises MerkleError if `nodes` is not a node array or `leaf` not a leaf of it.
    """
    leaf = _check_hash(leaf, "leaf")
    if not isinstance(nodes, bytes | bytearray | memoryview):
        raise MerkleError(f"nodes must be bytes, got {type(nodes).__name__}")
    view = memoryview(nodes)
    size, rest = divmod(len(view), HASH_LEN)
    if rest or size % 2 == 0:
        raise MerkleError(f"not a node array: {len(view)} bytes (2n-1 nodes of {HASH_LEN})")

    def node(i: int) -> bytes:
        return bytes(view[i * HASH_LEN : (i + 1) * HASH_LEN])

    count = (size + 1) // 2
    low, high = 0, count  # the k-th smallest leaf is at index size - 1 - k
    while low < high:
        middle = (low + high) // 2
        if node(size - 1 - middle) < leaf:
            low = middle + 1
        else:
            high = middle
    if low == count or node(size - 1 - low) != leaf:
        raise MerkleError("leaf is not in the tree")
    return _sibling_path(size - 1 - low, node)


def _strip0x(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a hex string, got {type(value).__name__}")
    return value[2:] if value[:2] in ("0x", "0X") else value
