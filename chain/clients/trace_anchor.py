"""Typed client of TraceAnchor: roots, brands, proofs, EIP-712 digests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from web3.types import BlockIdentifier, TxParams

from chain.clients.base import (
    ContractClient,
    Signer,
    as_bytes32,
    checksum,
    optional_address,
    struct_tuple,
)
from chain.clients.types import RootInfo, TxResult
from chain.errors import ChainValueError
from chain.releases import TRACE_ANCHOR_V1
from core.eip712 import Domain, Reading, anchor_domain


def _uint32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ChainValueError(f"{what} must be an integer in [0, 2**32)")
    return value


def _kind(kind: int) -> int:
    if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind < 256:
        raise ChainValueError("kind must be a uint8")
    return kind


def _proof(proof: Sequence[bytes | str]) -> list[bytes]:
    return [as_bytes32(p, f"proof[{i}]") for i, p in enumerate(proof)]


class TraceAnchorClient(ContractClient):
    """TraceAnchor at one address."""

    release = TRACE_ANCHOR_V1

    def domain(self) -> Domain:
        """The EIP-712 domain of this deployment (Reading, Commissioning, DeviceRegistration)."""
        return anchor_domain(self.chain_id(), self.address)

    # -- constants --

    def anchorer_role(self) -> bytes:
        """ANCHORER_ROLE = keccak256("ANCHORER_ROLE")."""
        return bytes(self._constant("ANCHORER_ROLE"))

    def leaf_v1(self) -> bytes:
        """LEAF_V1 = keccak256("chaintrace.leaf.v1")."""
        return bytes(self._constant("LEAF_V1"))

    def reading_typehash(self) -> bytes:
        """READING_TYPEHASH."""
        return bytes(self._constant("READING_TYPEHASH"))

    def commissioning_typehash(self) -> bytes:
        """COMMISSIONING_TYPEHASH."""
        return bytes(self._constant("COMMISSIONING_TYPEHASH"))

    def device_registration_typehash(self) -> bytes:
        """DEVICE_REGISTRATION_TYPEHASH."""
        return bytes(self._constant("DEVICE_REGISTRATION_TYPEHASH"))

    # -- reads --

    def root_info(self, root: bytes | str, block: BlockIdentifier = "latest") -> RootInfo:
        """What the contract records about `root` (anchored_at == 0: never anchored)."""
        anchored_at, block_number, leaf_count, brand, revoked_at = self._call(
            "rootInfo", as_bytes32(root, "root"), block=block
        )
        return RootInfo(
            int(anchored_at),
            int(block_number),
            int(leaf_count),
            optional_address(brand),
            int(revoked_at),
        )

    def brand_revoked_at(self, brand: str, block: BlockIdentifier = "latest") -> int:
        """When `brand` was revoked (unix seconds), or 0 if it is not."""
        return int(self._call("brandRevokedAt", checksum(brand, "brand"), block=block))

    def brand_of(self, company_prefix: str) -> str | None:
        """The brand owning the GS1 company prefix, or None."""
        return optional_address(self._call("brandOf", company_prefix))

    def prefix_of(self, brand: str) -> str | None:
        """The company prefix owned by `brand`, or None."""
        prefix = str(self._call("prefixOf", checksum(brand, "brand")))
        return prefix or None

    def leaf_hash(self, kind: int, event_hash: bytes, salt: bytes) -> bytes:
        """The contract's leaf of (kind, eventHash, salt)."""
        args = (_kind(kind), as_bytes32(event_hash, "event_hash"), as_bytes32(salt, "salt"))
        return bytes(self._call("leafHash", *args))

    def verify(
        self,
        kind: int,
        event_hash: bytes,
        salt: bytes,
        proof: Sequence[bytes | str],
        block: BlockIdentifier = "latest",
    ) -> bool:
        """Whether the proof leads from the leaf to some anchored root."""
        args = (_kind(kind), as_bytes32(event_hash, "event_hash"), as_bytes32(salt, "salt"))
        return bool(self._call("verify", *args, _proof(proof), block=block))

    def verify_against(
        self,
        root: bytes,
        kind: int,
        event_hash: bytes,
        salt: bytes,
        proof: Sequence[bytes | str],
        block: BlockIdentifier = "latest",
    ) -> bool:
        """Whether `root` is anchored and the proof leads from the leaf to exactly it."""
        args = (_kind(kind), as_bytes32(event_hash, "event_hash"), as_bytes32(salt, "salt"))
        root32 = as_bytes32(root, "root")
        return bool(self._call("verifyAgainst", root32, *args, _proof(proof), block=block))

    def hash_reading(self, reading: Reading | Mapping[str, Any]) -> bytes:
        """EIP-712 struct hash of a Reading (core.eip712.Reading, or a mapping by field name)."""
        return bytes(self._call("hashReading", self._reading(reading)))

    def reading_digest(self, reading: Reading | Mapping[str, Any]) -> bytes:
        """The EIP-712 digest a device signs for `reading`."""
        return bytes(self._call("readingDigest", self._reading(reading)))

    def commissioning_digest(self, brand: str, root: bytes, leaf_count: int) -> bytes:
        """The EIP-712 digest a brand signs to commission `root`."""
        args = (checksum(brand, "brand"), as_bytes32(root, "root"))
        return bytes(self._call("commissioningDigest", *args, _uint32(leaf_count, "leaf_count")))

    def device_registration_digest(self, device: str, operator: str) -> bytes:
        """The EIP-712 digest a device key signs to prove possession."""
        args = (checksum(device, "device"), checksum(operator, "operator"))
        return bytes(self._call("deviceRegistrationDigest", *args))

    def _reading(self, reading: Reading | Mapping[str, Any]) -> tuple[Any, ...]:
        return struct_tuple(self._components("hashReading"), reading)

    # -- writes: build_* for users' wallets, send_* for local keys --

    def build_register_brand(self, sender: str, brand: str, company_prefix: str) -> TxParams:
        """Unsigned registerBrand (admin only)."""
        return self._build(sender, "registerBrand", checksum(brand, "brand"), company_prefix)

    def send_register_brand(self, signer: Signer, brand: str, company_prefix: str) -> TxResult:
        """registerBrand signed by the admin key."""
        return self._send(signer, "registerBrand", checksum(brand, "brand"), company_prefix)

    def build_anchor(self, sender: str, root: bytes, leaf_count: int) -> TxParams:
        """Unsigned anchor (ANCHORER_ROLE only)."""
        args = (as_bytes32(root, "root"), _uint32(leaf_count, "leaf_count"))
        return self._build(sender, "anchor", *args)

    def send_anchor(self, signer: Signer, root: bytes, leaf_count: int) -> TxResult:
        """anchor signed by the anchorer key."""
        args = (as_bytes32(root, "root"), _uint32(leaf_count, "leaf_count"))
        return self._send(signer, "anchor", *args)

    def build_anchor_commissioning(
        self, sender: str, root: bytes, leaf_count: int, brand: str, signature: bytes
    ) -> TxParams:
        """Unsigned anchorCommissioning (anyone may relay the brand's signature)."""
        return self._build(
            sender, "anchorCommissioning", *self._comm(root, leaf_count, brand, signature)
        )

    def send_anchor_commissioning(
        self, signer: Signer, root: bytes, leaf_count: int, brand: str, signature: bytes
    ) -> TxResult:
        """anchorCommissioning relayed by `signer`."""
        return self._send(
            signer, "anchorCommissioning", *self._comm(root, leaf_count, brand, signature)
        )

    @staticmethod
    def _comm(root: bytes, leaf_count: int, brand: str, signature: bytes) -> tuple[Any, ...]:
        if not isinstance(signature, bytes | bytearray):
            raise ChainValueError("signature must be bytes")
        return (
            as_bytes32(root, "root"),
            _uint32(leaf_count, "leaf_count"),
            checksum(brand, "brand"),
            bytes(signature),
        )

    def build_revoke_brand(self, sender: str, brand: str) -> TxParams:
        """Unsigned revokeBrand (admin only): the brand commissions no more roots."""
        return self._build(sender, "revokeBrand", checksum(brand, "brand"))

    def send_revoke_brand(self, signer: Signer, brand: str) -> TxResult:
        """revokeBrand signed by the admin's key."""
        return self._send(signer, "revokeBrand", checksum(brand, "brand"))
