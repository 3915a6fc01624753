"""CONSENSUS-CRITICAL: the evidence root of a delivery attestation (evidence leaf v1).

The attestation's `evidenceRoot` commits to the readings the excursion minutes were computed
from: an OpenZeppelin StandardMerkleTree (encoding ["bytes32", "bytes32"]) over leaves
`keccak256(bytes.concat(keccak256(abi.encode(EVIDENCE_V1, readingDigest))))`, where
readingDigest is the EIP-712 digest of the Reading the device signed. No evidence -> bytes32(0).
Changing anything here breaks every attestation already issued: add a new version instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import MerkleError
from core.keccak import keccak
from core.merkle import HASH_LEN, MerkleTree

EVIDENCE_V1: bytes = keccak(b"chaintrace.evidence.v1")

ZERO_ROOT = bytes(HASH_LEN)


def _digest(value: object, position: int) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise MerkleError(f"reading digest {position} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_LEN:
        raise MerkleError(f"reading digest {position} must be {HASH_LEN} bytes, got {len(value)}")
    return bytes(value)


def evidence_leaf(reading_digest: bytes) -> bytes:
    """keccak256(keccak256(abi.encode(EVIDENCE_V1, bytes32 readingDigest)))."""
    # abi.encode of two static bytes32 words is their concatenation.
    return keccak(keccak(EVIDENCE_V1 + _digest(reading_digest, 0)))


def _unique_digests(digests: Iterable[bytes]) -> list[bytes]:
    if isinstance(digests, bytes | bytearray | str):
        raise MerkleError("digests must be a sequence of 32-byte reading digests, not one value")
    checked = [_digest(d, i) for i, d in enumerate(digests)]
    if len(set(checked)) != len(checked):
        # The same signed reading counted twice would be evidence that proves nothing more.
        raise MerkleError("a reading digest appears twice in the evidence")
    return checked


def evidence_tree(digests: Iterable[bytes]) -> MerkleTree:
    """The evidence tree over reading digests (input order kept for proof_at); needs >= 1."""
    checked = _unique_digests(digests)
    if not checked:
        raise MerkleError("an evidence tree needs at least one reading digest")
    return MerkleTree.build([evidence_leaf(d) for d in checked])


def evidence_root(digests: Iterable[bytes]) -> bytes:
    """The attestation's evidenceRoot: the tree's root, or bytes32(0) when there is no evidence."""
    checked = _unique_digests(digests)
    if not checked:
        return ZERO_ROOT
    return MerkleTree.build([evidence_leaf(d) for d in checked]).root
