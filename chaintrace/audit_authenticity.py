"""The auditor's verdict on each commissioning, from the chain alone (core.verdict decides).

For every anchored commissioning event the auditor reads, from the TraceAnchor release its root
went to: the root's signer and block time (and re-signing, on v2); from TraceAnchor v2 the brand
holding the item's GTIN (longest registered prefix) and each signer's revocation and
`compromisedSince`. A root that is on chain counts as final here: the auditor judges whose word
the root is, not how deep it lies. A recall is the brand's word kept in the store, not signed on
chain: it is not among the auditor's facts, so `recalled` never comes out here (docs/recalls.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chain.clients.trace_anchor import TraceAnchorClient
from chain.clients.trace_anchor_v2 import TraceAnchorV2Client
from chain.transactions import chain_errors
from core.errors import Gs1Error
from core.gs1 import SGTIN_URN_PREFIX, parse_sgtin_urn
from core.verdict import BrandFacts, ItemFacts, RootFacts, Verdict, verdict


@dataclass(frozen=True)
class CommissioningCheck:
    """One commissioning event's verdict."""

    epc: str
    root: str
    verdict: Verdict


def commissioned_epc(event_json: str) -> str | None:
    """The SGTIN a commissioning ObjectEvent (action ADD) creates, or None for other events."""
    try:
        event = json.loads(event_json)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("action") != "ADD":
        return None
    if not str(event.get("bizStep", "")).endswith("commissioning"):
        return None
    epcs = event.get("epcList") or []
    if len(epcs) != 1 or not isinstance(epcs[0], str) or not epcs[0].startswith(SGTIN_URN_PREFIX):
        return None  # e.g. a carrier's device registration (urn:chaintrace:device:...)
    return str(epcs[0])


class ChainFacts:
    """Reads what core.verdict needs from the TraceAnchor releases (cached per brand).

    Registrations count as in store/brand_standing.py: on the newest release, and on an earlier
    one only for an account it revoked before the newest was deployed (`upgrade_block`); the
    upgrade carried every other active brand over. An earlier release still deployed could
    otherwise register a prefix behind the newest one's back.
    """

    def __init__(
        self, anchors: Mapping[int, TraceAnchorClient], upgrade_block: int | None = None
    ) -> None:
        self.anchors = anchors
        self.newest = anchors[max(anchors)]
        self.v2 = self.newest if isinstance(self.newest, TraceAnchorV2Client) else None
        self.upgrade_block = upgrade_block
        self._upgrade_time: int | None = None
        self._brands: dict[str, BrandFacts | None] = {}

    def _registered_prefix(self, address: str) -> str | None:
        prefix = self.newest.prefix_of(address)
        if prefix:
            return prefix
        # An earlier release's brand the upgrade did not carry over: only one it had revoked
        # before the newest release was deployed (its old roots); never one registered after,
        # nor a nested prefix the newest refused.
        upgraded_at = self._upgraded_at()
        for anchor in self.anchors.values():
            if anchor is self.newest or not (prefix := anchor.prefix_of(address)):
                continue
            revoked_at = anchor.brand_revoked_at(address)
            if upgraded_at is None or 0 < revoked_at < upgraded_at:
                return prefix
        return None

    def _upgraded_at(self) -> int | None:
        """The block time the newest release was deployed at (None: one release only)."""
        if self.upgrade_block is None or len(self.anchors) == 1:
            return None
        if self._upgrade_time is None:
            with chain_errors():
                block = self.newest.w3.eth.get_block(self.upgrade_block)
            self._upgrade_time = int(block["timestamp"])
        return self._upgrade_time

    def item_prefix(self, gtin: str, urn_prefix: str) -> str | None:
        """The counted registered prefix of the GTIN-14 (the EPC's own prefix as a hint)."""
        if self.v2 is not None:
            holder = self.v2.brand_of_gtin(gtin)
            if holder is not None:
                return self.v2.prefix_of(holder)
        for anchor in self.anchors.values():  # a brand only an earlier release registered
            holder = anchor.brand_of(urn_prefix)
            brand = self.brand(holder)
            if brand is not None and brand.prefix == urn_prefix:
                return urn_prefix
        return None

    def brand(self, address: str | None) -> BrandFacts | None:
        """A counted brand account's standing over every release (revoked on any counts)."""
        if address is None:
            return None
        if address not in self._brands:
            prefix = self._registered_prefix(address)
            revoked = [t for a in self.anchors.values() if (t := a.brand_revoked_at(address))]
            since = self.v2.compromised_since(address) if self.v2 is not None else 0
            self._brands[address] = (
                None
                if prefix is None
                else BrandFacts(address, prefix, min(revoked, default=None), since or None)
            )
        return self._brands[address]

    def item(self, epc: str, root: bytes, anchor_version: int) -> ItemFacts:
        """The facts about the item `epc` commissioned in `root`."""
        sgtin = parse_sgtin_urn(epc)
        prefix = self.item_prefix(sgtin.gtin, epc.split(":")[-1].split(".")[0])
        info = self.anchors[anchor_version].root_info(root)
        facts = RootFacts(
            signer=info.brand,
            anchored_at=info.anchored_at or None,
            final=info.anchored,
            endorser=info.endorsed_by,
            endorsed_at=info.endorsed_at or None,
        )
        known = [b for b in (self.brand(info.brand), self.brand(info.endorsed_by)) if b]
        brands = {b.address.lower(): b for b in known}
        return ItemFacts(prefix=prefix, known=True, root=facts, brands=brands)


def check_commissioning(record: Any, facts: ChainFacts) -> CommissioningCheck | None:
    """The verdict on an anchored commissioning record; None for other or unanchored records."""
    epc = commissioned_epc(record.event_json)
    if epc is None or record.root is None:
        return None
    try:
        item = facts.item(epc, bytes.fromhex(record.root.removeprefix("0x")), record.anchor_version)
    except Gs1Error:
        return CommissioningCheck(epc, record.root, Verdict.NOT_RECOGNISED)
    return CommissioningCheck(epc, record.root, verdict(item).verdict)
