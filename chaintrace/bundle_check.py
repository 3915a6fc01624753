"""`chaintrace verify-bundle`: an item's proof bundle (docs/proof-bundle.md) checked offline and
against the chain, trusting nothing of the platform but the committed TraceAnchor release code.

Per entry: the projection names the bundle's item; its CBV 2.0 hash, kind 2 leaf and proof's root
recomputed (core/proof_bundle.py); the contract holds TraceAnchor v2's released code;
verifyMember true; rootInfo(root) anchored in the bundle's block by the bundle's transaction;
final by the bundle's rule (the `finalized` tag, or N confirmations). Then the brand's word:
the commissioning's root is brandConfirmed by the holder of the GTIN's prefix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3Exception

from api.public_history import item_epc_in
from chain.anchoring.finality import ChainHead, FinalityTracker
from chain.clients.trace_anchor_v2 import TraceAnchorV2Client
from chain.errors import ChainError
from chain.releases import TRACE_ANCHOR_V2, release_artifact
from chain.toolchain.deploy import code_matches
from core.proof_bundle import check_entry


@dataclass
class EntryResult:
    """One entry's verdict: `failure` names what does not hold (None: everything does)."""

    step: str
    event_time: str | None
    block: int | None
    final: bool = False
    confirmations_left: int | None = None
    failure: str | None = None


@dataclass
class BundleReport:
    """The whole bundle's verdict."""

    chain_id: int
    chain_name: str | None
    failure: str | None = None  # one that spoils every entry (wrong chain, unreachable RPC)
    entries: list[EntryResult] = field(default_factory=list)
    brand: str = "not claimed"  # "confirmed", "not claimed", or what failed
    brand_ok: bool = True

    @property
    def ok(self) -> bool:
        """Every check holds (finality aside)."""
        return (
            self.failure is None and self.brand_ok and all(e.failure is None for e in self.entries)
        )

    @property
    def final(self) -> bool:
        """Every entry is final too."""
        return self.ok and all(e.final for e in self.entries)


def _b(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


class _Chain:
    """The chain as the bundle is checked against it (contracts checked once each)."""

    def __init__(self, w3: Web3, bundle: Mapping[str, Any]) -> None:
        self.w3 = w3
        self.versions = {c["address"].lower(): c["version"] for c in bundle["contracts"]}
        self._anchors: dict[str, TraceAnchorV2Client | str] = {}
        rule = bundle["finality"]
        self.finality = FinalityTracker(w3, rule["mode"], rule["confirmations"])
        self.head: ChainHead = self.finality.head()

    def anchor(self, address: str) -> TraceAnchorV2Client:
        """TraceAnchor v2 at `address`, or ValueError naming why not."""
        key = address.lower()
        if key not in self._anchors:
            self._anchors[key] = self._check_contract(address)
        found = self._anchors[key]
        if isinstance(found, str):
            raise ValueError(found)
        return found

    def _check_contract(self, address: str) -> TraceAnchorV2Client | str:
        version = self.versions.get(address.lower())
        if version != TRACE_ANCHOR_V2.version:
            return f"contract: {address} is not listed as TraceAnchor v2 in the bundle"
        code = bytes(self.w3.eth.get_code(Web3.to_checksum_address(address)))
        if not code_matches(code, release_artifact(TRACE_ANCHOR_V2)):
            return f"contract: {address} does not hold TraceAnchor v2's released code"
        return TraceAnchorV2Client(self.w3, address)


def _on_chain(chain: _Chain, entry: Mapping[str, Any], result: EntryResult) -> None:
    anchoring = entry["anchoring"]
    if entry["root"] is None or anchoring["blockNumber"] is None or anchoring["txHash"] is None:
        result.failure = "pending: not anchored on the chain yet"
        return
    anchor = chain.anchor(anchoring["contract"])
    proof = [_b(p) for p in entry["proof"]]
    args = (entry["eventKind"], _b(entry["projectionHash"]), _b(entry["salt"]), proof)
    if not anchor.verify_member(*args):
        result.failure = "verifyMember: the contract does not accept the proof"
        return
    info = anchor.root_info(entry["root"])
    if info.anchored_at == 0:
        result.failure = "root: never anchored at the contract"
        return
    if info.block_number != anchoring["blockNumber"]:
        result.failure = f"block: root anchored in block {info.block_number}, not the bundle's"
        return
    try:
        receipt = chain.w3.eth.get_transaction_receipt(anchoring["txHash"])
    except TransactionNotFound:
        result.failure = "transaction: not found on the chain"
        return
    to = str(receipt.get("to") or "").lower()
    if receipt.get("status") != 1 or receipt.get("blockNumber") != info.block_number:
        result.failure = "transaction: not the successful one of the anchoring block"
        return
    if to != anchoring["contract"].lower():
        result.failure = "transaction: not sent to the bundle's contract"
        return
    block = bytes(chain.w3.eth.get_block(info.block_number)["hash"])
    status = chain.finality.status(info.block_number, block, chain.head)
    result.final = status.value == "final"
    if not result.final and chain.finality.mode == "confirmations":
        done = chain.head.latest - info.block_number
        result.confirmations_left = max(0, chain.finality.confirmations - done)


def _entry(chain: _Chain, bundle: Mapping[str, Any], entry: Mapping[str, Any]) -> EntryResult:
    step = entry.get("bizStep") or str(entry["projection"].get("type"))
    result = EntryResult(step, entry.get("eventTime"), entry["anchoring"]["blockNumber"])
    item = bundle["item"]
    if item_epc_in(entry["projection"], item["gtin"], item["serial"]) is None:
        result.failure = "item: the projection names no EPC of the bundle's item"
        return result
    offline = check_entry(entry)
    if offline.failure is not None:
        result.failure = offline.failure
        return result
    try:
        _on_chain(chain, entry, result)
    except (ValueError, ChainError, Web3Exception) as exc:
        result.failure = str(exc)
    return result


def _brand(chain: _Chain, bundle: Mapping[str, Any], report: BundleReport) -> None:
    check = bundle["brandCheck"]
    if check is None:
        return
    commissioning = [
        (e, r)
        for e, r in zip(bundle["entries"], report.entries, strict=True)
        if e["root"] == check["root"] and e.get("bizStep") == "commissioning"
    ]
    report.brand_ok = False
    if not commissioning or any(r.failure for _, r in commissioning):
        report.brand = "brand: the root named holds no verified commissioning of the item"
        return
    try:
        anchor = chain.anchor(check["contract"])
        info = anchor.root_info(check["root"])
        holder = anchor.brand_of_gtin(bundle["item"]["gtin"])
    except (ValueError, ChainError, Web3Exception) as exc:
        report.brand = str(exc)
        return
    signers = {a.lower() for a in (info.brand, info.endorsed_by) if a}
    if not info.brand_confirmed:
        report.brand = "brand: rootInfo(root).brandConfirmed is false"
    elif holder is None or holder.lower() not in signers:
        report.brand = "brand: the root's signer does not hold the GTIN's company prefix now"
    else:
        report.brand, report.brand_ok = "confirmed", True


def verify_bundle(w3: Web3, bundle: Mapping[str, Any]) -> BundleReport:
    """Check a parsed bundle (core.proof_bundle.parse_bundle) against the chain behind `w3`."""
    report = BundleReport(bundle["chain"]["chainId"], bundle["chain"]["name"])
    try:
        chain_id = int(w3.eth.chain_id)
        if chain_id != report.chain_id:
            report.failure = (
                f"chain id: the RPC serves chain {chain_id}, the bundle names {report.chain_id}"
            )
            return report
        chain = _Chain(w3, bundle)
    except (ChainError, Web3Exception, OSError, ValueError) as exc:
        report.failure = f"RPC: {exc}"
        return report
    report.entries = [_entry(chain, bundle, e) for e in bundle["entries"]]
    _brand(chain, bundle, report)
    return report
