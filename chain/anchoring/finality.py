"""When an anchored block is final: the chain's `finalized` tag, or N confirmations on top of it."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Literal

from web3 import Web3
from web3.exceptions import BlockNotFound, Web3Exception

from chain.settings import FinalityMode

_LOGGER = logging.getLogger(__name__)

# Development nodes answer the `finalized` tag with a synthetic block (anvil: head - 64) that no
# consensus backs, and mine only on demand: waiting for it would stall forever, so "auto" counts
# confirmations on them.
_DEV_CLIENTS = ("anvil/", "hardhatnetwork/", "ganache/", "ethereumjs testrpc/")


class BlockStatus(enum.StrEnum):
    """Where an anchoring block stands against the canonical chain."""

    ANCHORED = "anchored"  # canonical, not final yet
    FINAL = "final"
    REORGED = "reorged"  # the recorded block hash is no longer canonical at that height


@dataclass(frozen=True)
class ChainHead:
    """One snapshot of the chain taken per poll: the latest and the finalized block numbers."""

    latest: int
    finalized: int | None


class FinalityTracker:
    """Decides finality per block; the policy ("auto" resolved once) is fixed for its lifetime."""

    def __init__(self, w3: Web3, mode: FinalityMode, confirmations: int) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be at least 1")
        self._w3 = w3
        self._mode = mode
        self._confirmations = confirmations
        self._resolved: Literal["tag", "confirmations"] | None = None if mode == "auto" else mode

    @property
    def confirmations(self) -> int:
        """Blocks needed on top of the anchoring block when finality counts confirmations."""
        return self._confirmations

    @property
    def mode(self) -> Literal["tag", "confirmations"]:
        """The policy in force: "tag" or "confirmations" ("auto" asks the node once)."""
        if self._resolved is None:
            self._resolved = self._detect()
            _LOGGER.info("finality: %s (configured auto)", self._resolved)
        return self._resolved

    def head(self) -> ChainHead:
        """The latest block number and, in tag mode, the finalized one (None if not answered)."""
        latest = int(self._w3.eth.block_number)
        finalized = self._finalized_number() if self.mode == "tag" else None
        return ChainHead(latest=latest, finalized=finalized)

    def status(self, block_number: int, block_hash: bytes, head: ChainHead) -> BlockStatus:
        """The status of a block recorded as (number, hash), judged against `head`."""
        if not self.is_canonical(block_number, block_hash):
            return BlockStatus.REORGED
        if self.mode == "tag":
            final = head.finalized is not None and block_number <= head.finalized
        else:
            final = head.latest - block_number >= self._confirmations
        return BlockStatus.FINAL if final else BlockStatus.ANCHORED

    def is_canonical(self, block_number: int, block_hash: bytes) -> bool:
        """Whether the canonical block at `block_number` still has `block_hash`."""
        try:
            block = self._w3.eth.get_block(block_number)
        except BlockNotFound:
            # The chain got shorter than the recorded block: a reorg dropped it.
            return False
        canonical = block.get("hash")
        return canonical is not None and bytes(canonical) == bytes(block_hash)

    def _finalized_number(self) -> int | None:
        try:
            block = self._w3.eth.get_block("finalized")
        except (BlockNotFound, Web3Exception, ValueError):
            return None
        number = block.get("number")
        return None if number is None else int(number)

    def _detect(self) -> Literal["tag", "confirmations"]:
        try:
            client = str(self._w3.client_version).lower()
        except (Web3Exception, ValueError):
            client = ""
        if client.startswith(_DEV_CLIENTS):
            return "confirmations"
        return "tag" if self._finalized_number() is not None else "confirmations"
