"""Strict ABI value checks shared by EIP-712 and SLA inputs."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address

from core.abi_values import check_address, check_bytes32, check_int, hex32, int_bounds
from core.errors import CoreValueError, SlaError


@pytest.mark.parametrize(
    ("sol_type", "bounds"),
    [
        ("uint8", (0, 255)),
        ("int8", (-128, 127)),
        ("uint64", (0, 2**64 - 1)),
        ("int32", (-(2**31), 2**31 - 1)),
        ("uint256", (0, 2**256 - 1)),
    ],
)
def test_int_bounds(sol_type: str, bounds: tuple[int, int]) -> None:
    assert int_bounds(sol_type) == bounds
    lo, hi = bounds
    assert check_int(lo, sol_type, "x") == lo and check_int(hi, sol_type, "x") == hi
    for bad in (lo - 1, hi + 1):
        with pytest.raises(CoreValueError, match=f"x must be {sol_type}"):
            check_int(bad, sol_type, "x")


@pytest.mark.parametrize("sol_type", ["uint", "uint7", "int264", "bytes32", "uint0"])
def test_int_bounds_rejects_non_integer_types(sol_type: str) -> None:
    with pytest.raises(ValueError, match="not a Solidity integer type"):
        int_bounds(sol_type)


def test_errors_use_the_callers_class() -> None:
    with pytest.raises(SlaError, match="got float"):
        check_int(1.5, "uint32", "grace", SlaError)
    with pytest.raises(SlaError, match="20-byte hex address"):
        check_address("0x12", "who", SlaError)
    with pytest.raises(SlaError, match="32 bytes"):
        check_bytes32(b"", "root", SlaError)
    with pytest.raises(SlaError, match="32-byte hex string"):
        hex32("0x12", "root", SlaError)


def test_address_case_rules() -> None:
    checksummed = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert to_checksum_address(checksummed.lower()) == checksummed
    assert check_address(checksummed.lower(), "a") == checksummed
    assert check_address("0x" + checksummed[2:].upper(), "a") == checksummed
    with pytest.raises(CoreValueError, match="EIP-55"):
        check_address("0x5fbDB2315678afecb367f032d93F642f64180aa3", "a")
    for bad in ["0X" + checksummed[2:], checksummed[2:], checksummed + "00", None, b"\x00" * 20]:
        with pytest.raises(CoreValueError, match="20-byte hex address"):
            check_address(bad, "a")
