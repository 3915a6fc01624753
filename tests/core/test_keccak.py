"""core.keccak (safe-pysha3) computes exactly what eth_hash.auto (pycryptodome) computes."""

from __future__ import annotations

from eth_hash.backends.pycryptodome import keccak256 as reference
from hypothesis import given
from hypothesis import strategies as st

from core.keccak import keccak


def test_known_vectors() -> None:
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


@given(st.binary(max_size=600))
def test_matches_pycryptodome(data: bytes) -> None:
    assert keccak(data) == reference(data)


def test_accepts_bytearray() -> None:
    assert keccak(bytearray(b"chaintrace")) == reference(b"chaintrace")
