"""core.recursion: the recursion limit py_ecc raises on import is bounded again."""

from __future__ import annotations

import subprocess
import sys

from core.recursion import MAX_RECURSION_LIMIT

_PROBE = """
import sys
import web3  # imports eth-account, whose py_ecc sets sys.setrecursionlimit(100000)
print(sys.getrecursionlimit())
from core.recursion import bound_recursion_limit
print(bound_recursion_limit())
print(sys.getrecursionlimit())
"""


def test_web3_raises_the_limit_and_bound_restores_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) > MAX_RECURSION_LIMIT  # what the dependency does, still
    assert int(out[1]) == int(out[2]) == MAX_RECURSION_LIMIT


def test_a_lower_limit_is_left_alone() -> None:
    probe = (
        "import sys; import py_ecc; sys.setrecursionlimit(800); "
        "from core.recursion import bound_recursion_limit; print(bound_recursion_limit())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "800"
