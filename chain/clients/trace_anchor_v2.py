"""Typed client of TraceAnchor v2: v1's calls, brand standing, re-signing, every leaf kind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from web3 import Web3
from web3.types import BlockIdentifier, TxParams

from chain.clients.base import Signer, as_bytes32, checksum, optional_address
from chain.clients.trace_anchor import TraceAnchorClient, _kind, _proof
from chain.clients.types import RootInfo, TxResult
from chain.errors import ChainValueError
from chain.releases import TRACE_ANCHOR_V2
from core.eip712 import Domain, anchor_domain_v2


def _time(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**64:
        raise ChainValueError(f"{what} must be a unix time in (0, 2**64)")
    return value


class TraceAnchorV2Client(TraceAnchorClient):
    """TraceAnchor v2 at one address."""

    release = TRACE_ANCHOR_V2

    def domain(self) -> Domain:
        """The EIP-712 domain of this deployment (version "2")."""
        return anchor_domain_v2(self.chain_id(), self.address)

    def registrar_role(self) -> bytes:
        """REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE")."""
        return bytes(self._constant("REGISTRAR_ROLE"))

    def root_info(self, root: bytes | str, block: BlockIdentifier = "latest") -> RootInfo:
        """What the contract records about `root`, with its brand's standing."""
        info = self._call("rootInfo", as_bytes32(root, "root"), block=block)
        return RootInfo(
            int(info[0]),  # anchoredAt
            int(info[1]),  # blockNumber
            int(info[2]),  # leafCount
            optional_address(info[3]),  # brand
            int(info[4]),  # brandRevokedAt
            int(info[5]),  # brandCompromisedSince
            optional_address(info[6]),  # endorsedBy
            int(info[7]),  # endorsedAt
            bool(info[8]),  # brandConfirmed
        )

    def compromised_since(self, brand: str, block: BlockIdentifier = "latest") -> int:
        """Since when `brand`'s key is compromised (unix seconds), or 0."""
        return int(self._call("compromisedSince", checksum(brand, "brand"), block=block))

    def brand_of_gtin(self, gtin: str) -> str | None:
        """The brand holding the registered prefix of the GTIN-14 `gtin`, or None."""
        return optional_address(self._call("brandOfGtin", gtin))

    def member_leaf_hash(self, event_kind: int, projection_hash: bytes, salt: bytes) -> bytes:
        """The contract's kind 2 leaf."""
        args = (_kind(event_kind), as_bytes32(projection_hash, "projection_hash"))
        return bytes(self._call("memberLeafHash", *args, as_bytes32(salt, "salt")))

    def verify_member(
        self,
        event_kind: int,
        projection_hash: bytes,
        salt: bytes,
        proof: Sequence[bytes | str],
        block: BlockIdentifier = "latest",
    ) -> bool:
        """Whether the proof leads from the kind 2 leaf to some anchored root."""
        args = (_kind(event_kind), as_bytes32(projection_hash, "projection_hash"))
        return bool(
            self._call("verifyMember", *args, as_bytes32(salt, "salt"), _proof(proof), block=block)
        )

    def verify_brand_confirmed(
        self, gtin: str, kind: int, event_hash: bytes, salt: bytes, proof: Sequence[bytes | str]
    ) -> bool:
        """Whether the proof leads to a root confirmed by the brand holding `gtin`'s prefix."""
        args = (_kind(kind), as_bytes32(event_hash, "event_hash"), as_bytes32(salt, "salt"))
        return bool(self._call("verifyBrandConfirmed", gtin, *args, _proof(proof)))

    def build_mark_compromised(self, sender: str, brand: str, since: int) -> TxParams:
        """Unsigned markCompromised (admin only)."""
        args = (checksum(brand, "brand"), _time(since, "since"))
        return self._build(sender, "markCompromised", *args)

    def send_mark_compromised(self, signer: Signer, brand: str, since: int) -> TxResult:
        """markCompromised signed by the admin's key."""
        args = (checksum(brand, "brand"), _time(since, "since"))
        return self._send(signer, "markCompromised", *args)

    def build_endorse_root(
        self, sender: str, root: bytes | str, brand: str, signature: bytes
    ) -> TxParams:
        """Unsigned endorseRoot (anyone may relay the prefix holder's signature)."""
        args = (as_bytes32(root, "root"), checksum(brand, "brand"), bytes(signature))
        return self._build(sender, "endorseRoot", *args)

    def send_endorse_root(
        self, signer: Signer, root: bytes | str, brand: str, signature: bytes
    ) -> TxResult:
        """endorseRoot relayed by `signer`."""
        args = (as_bytes32(root, "root"), checksum(brand, "brand"), bytes(signature))
        return self._send(signer, "endorseRoot", *args)


def anchor_client(w3: Web3, version: int, address: str) -> TraceAnchorClient:
    """The typed client of TraceAnchor release `version` at `address`."""
    if version == TRACE_ANCHOR_V2.version:
        return TraceAnchorV2Client(w3, address)
    if version == TraceAnchorClient.release.version:
        return TraceAnchorClient(w3, address)
    raise ChainValueError(f"no TraceAnchor release v{version}")


class _Release(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def address(self) -> str: ...


def trace_anchors(w3: Web3, releases: Iterable[_Release]) -> dict[int, TraceAnchorClient]:
    """A client per TraceAnchor release among a deployment's `releases`, by version."""
    return {
        r.version: anchor_client(w3, r.version, r.address)
        for r in releases
        if r.name == TRACE_ANCHOR_V2.name
    }
