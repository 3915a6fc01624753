"""chain.revert: revert data decoded into named exceptions; the generated classes match the ABIs."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from chain import errors, solidity_errors
from chain.revert import REGISTRY, decode_revert
from chain.toolchain.artifacts import abi_signature
from chain.toolchain.compile import compile_contracts, error_notices
from chain.toolchain.generate_errors import user_sentence

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

# A sample value per ABI type the contracts' errors use.
SAMPLES: dict[str, Any] = {
    "address": ADDR,
    "bytes32": bytes(range(32)),
    "uint8": 3,
    "uint32": 4_000_000_000,
    "uint48": 2**47 + 3,  # AccessControlDefaultAdminRules' delays (escrow v2)
    "bool": True,
    "uint64": 2**63 + 5,
    "uint256": 2**200 + 7,
    "int32": -12_345,
    "string": "0123456789",
    "bytes": b"\x01\x02",
}


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _abi_errors() -> dict[str, dict[str, Any]]:
    return {
        e["name"]: e
        for artifact in compile_contracts().values()
        for e in artifact.abi
        if e.get("type") == "error"
    }


def test_every_abi_error_has_a_named_class() -> None:
    abi_errors = _abi_errors()
    assert {"AnchorRootExists", "EscrowDisputeWindowOpen", "AccessControlUnauthorizedAccount"} <= (
        abi_errors.keys()
    )
    for name, entry in abi_errors.items():
        cls = getattr(solidity_errors, name)
        assert issubclass(cls, errors.ContractRevert)
        assert cls.signature == abi_signature(entry)
        assert REGISTRY[_selector(cls.signature)] is cls


@pytest.mark.parametrize("name", sorted(_abi_errors()))
def test_each_error_round_trips(name: str) -> None:
    cls: type[errors.ContractRevert] = getattr(solidity_errors, name)
    values = [SAMPLES[t] for t in cls.arg_types]
    data = _selector(cls.signature) + abi_encode(list(cls.arg_types), values)
    exc = decode_revert("0x" + data.hex())
    assert type(exc) is cls
    assert exc.name == name
    assert exc.selector == _selector(cls.signature)
    assert exc.args_dict == dict(zip(cls.arg_names, values, strict=True))
    assert str(exc).startswith(f"{name}(")
    assert decode_revert(data).args_dict == exc.args_dict  # bytes in, same result


def test_catchable_by_name_and_by_base() -> None:
    data = _selector("AnchorRootExists(bytes32)") + bytes(32)
    with pytest.raises(solidity_errors.AnchorRootExists) as info:
        raise decode_revert(data)
    assert info.value.args_dict == {"root": bytes(32)}
    assert isinstance(info.value, errors.ChainError)
    assert "0x" + "00" * 32 in str(info.value)


def test_error_string_and_panic() -> None:
    msg = decode_revert(_selector("Error(string)") + abi_encode(["string"], ["no way"]))
    assert isinstance(msg, errors.RevertMessage)
    assert msg.message == "no way"
    assert str(msg) == "Error(message='no way')"
    panic = decode_revert(_selector("Panic(uint256)") + abi_encode(["uint256"], [0x11]))
    assert isinstance(panic, errors.Panic)
    assert panic.code == 0x11
    assert "overflow" in str(panic)


def test_unknown_selector_shows_selector_not_blob() -> None:
    data = bytes.fromhex("deadbeef") + bytes(range(200))
    exc = decode_revert(data)
    assert type(exc) is errors.UnknownRevert
    assert exc.selector == bytes.fromhex("deadbeef")
    assert exc.data == data
    assert "0xdeadbeef" in str(exc)
    assert len(str(exc)) < 80


@pytest.mark.parametrize("data", [None, b"", "0x", "0x1234", "garbage", "Reverted 0x"])
def test_revert_without_data(data: Any) -> None:
    exc = decode_revert(data)
    assert type(exc) is errors.UnknownRevert
    assert exc.selector is None
    assert str(exc) == "reverted without a reason"


def test_malformed_arguments_do_not_crash() -> None:
    data = _selector("EscrowWrongAmount(uint256,uint256)") + b"\x01" * 7
    exc = decode_revert(data)
    assert type(exc) is errors.UnknownRevert
    assert "EscrowWrongAmount" in str(exc)


def test_addresses_are_checksummed() -> None:
    data = _selector("EscrowNotParty(address)") + abi_encode(["address"], [ADDR.lower()])
    assert decode_revert(data).args_dict == {"caller": ADDR}


def test_named_errors_pickle() -> None:
    exc = decode_revert(_selector("EscrowZeroAmount()"))
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is solidity_errors.EscrowZeroAmount
    assert (again.name, again.selector, again.data) == (exc.name, exc.selector, exc.data)


def test_builtin_bases() -> None:
    assert issubclass(errors.ChainValueError, ValueError)
    assert issubclass(errors.ChainConnectionError, ConnectionError)
    assert issubclass(errors.DeploymentNotFound, LookupError)


def test_an_error_s_notice_is_its_natspec_as_a_user_reads_it() -> None:
    """The generated classes carry the contracts' @notice (compiled with solc's userdoc)."""
    notices = error_notices()
    assert notices["EscrowV2DisputeWindowOpen"] == (
        "The dispute window is still open; {settle} succeeds from `endsAt` on."
    )
    assert solidity_errors.EscrowV2DisputeWindowOpen.notice == (
        "the dispute window is still open; settle() succeeds from endsAt on"
    )
    assert user_sentence("ETH is `address(0)`.") == "ETH is address(0)"
    assert solidity_errors.AnchorUnknownRoot.notice is None  # released without: see api/errors
