"""CONSENSUS-CRITICAL: a shipment's device set, Terms v2 `devicesRoot` (devices leaf v1).

An OpenZeppelin StandardMerkleTree (encoding ["bytes32", "address"]) over leaves
`keccak256(bytes.concat(keccak256(abi.encode(DEVICES_V1, address device))))`, 1 to 16 unique
devices, so a dispute can prove one device's membership with OpenZeppelin MerkleProof.
Changing anything here breaks every signed Terms v2: add a new version instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.abi_values import check_address
from core.errors import MerkleError
from core.keccak import keccak
from core.merkle import MerkleTree, verify

DEVICES_V1: bytes = keccak(b"chaintrace.devices.v1")
MAX_DEVICES = 16


def device_leaf(device: str) -> bytes:
    """keccak256(keccak256(abi.encode(DEVICES_V1, address device)))."""
    address = check_address(device, "device", MerkleError)
    # abi.encode(bytes32, address): the address is left-padded to a 32-byte word.
    return keccak(keccak(DEVICES_V1 + bytes(12) + bytes.fromhex(address[2:])))


def checked_devices(devices: Iterable[str]) -> tuple[str, ...]:
    """The devices checksummed, in input order: 1 to 16, no address twice (any case)."""
    if isinstance(devices, str | bytes | bytearray):
        raise MerkleError("devices must be a sequence of addresses, not one value")
    checked = tuple(check_address(d, f"devices[{i}]", MerkleError) for i, d in enumerate(devices))
    if not 1 <= len(checked) <= MAX_DEVICES:
        raise MerkleError(f"a device set has 1 to {MAX_DEVICES} devices, got {len(checked)}")
    if len(set(checked)) != len(checked):
        raise MerkleError("a device appears twice in the device set")
    return checked


def devices_tree(devices: Iterable[str]) -> MerkleTree:
    """The device-set tree (input order kept for proof_at)."""
    return MerkleTree.build([device_leaf(d) for d in checked_devices(devices)])


def devices_root(devices: Iterable[str]) -> bytes:
    """Terms v2 `devicesRoot` of the device set."""
    return devices_tree(devices).root


def device_proof(devices: Iterable[str], device: str) -> list[bytes]:
    """The membership proof of `device` in the set (OpenZeppelin MerkleProof, sorted pairs)."""
    return devices_tree(devices).proof(device_leaf(device))


def is_member(root: bytes, device: str, proof: Sequence[bytes]) -> bool:
    """True if `proof` shows `device` in the set committed by `root`."""
    return verify(root, device_leaf(device), proof)
