"""keccak256 for core's hot paths (leaves, tree nodes, typed-data digests).

eth-hash's pysha3 backend (safe-pysha3, a C extension) rather than `eth_hash.auto`, which picks
pycryptodome when both are installed: about 0.7 us a call against 4 us, and a leaf takes two
calls. Both compute the same keccak256 (tests compare them).
"""

from __future__ import annotations

from eth_hash.backends.pysha3 import keccak256 as keccak

__all__ = ["keccak"]
