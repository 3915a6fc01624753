"""The process's recursion limit, restored after a dependency raised it.

py_ecc (imported by eth-account, hence by web3) calls `sys.setrecursionlimit(100000)` in its
`__init__`. With that limit Python's recursion guards (json, pydantic, the JSON encoders) no
longer trip before the C stack overflows, so deeply nested input segfaults the process instead of
raising RecursionError. Every process entry point calls `bound_recursion_limit()` after its
imports.
"""

from __future__ import annotations

import contextlib
import sys

# Python's default is 1,000; a little headroom for deep but legitimate call chains.
MAX_RECURSION_LIMIT = 3000


def bound_recursion_limit(limit: int = MAX_RECURSION_LIMIT) -> int:
    """Import what raises the limit, then lower it to at most `limit`; returns the limit now."""
    with contextlib.suppress(ImportError):  # eth-account always brings it
        import py_ecc  # noqa: F401  (its import is what raises the limit: let it happen first)
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)
    return sys.getrecursionlimit()
