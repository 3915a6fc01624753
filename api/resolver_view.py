"""The consumer's view of an item: its public projections with proofs and finality, and the
verdict, for JSON and the page (DESIGN.md "Public and private views")."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.anchoring_view import anchoring_fields
from api.brand_state import anchor_releases, ledger
from api.catalog import epc_of
from api.chain_public import chain_name, tx_url
from api.cold_chain import item_cold_chain
from api.content_view import content_view
from api.errors import ChainUnavailable
from api.finality import confirmations_left
from api.links import item_link
from api.public_history import (
    described,
    item_epc_in,
    projection_now,
    proven_entry,
    unproven_entry,
)
from api.state import ChainAccess
from api.unknown_code import code_path, judge_unknown
from core.verdict import Decision, Verdict, verdict
from store.brand_standing import item_facts
from store.chain_view import followed_height
from store.erasure import ERASED_JSON, erasures_of
from store.member_leaves import MemberLeaf, member_leaves_of_item
from store.models import EventErasure, Item
from store.queries import EventRecord, item_history

VERIFY_FUNCTION = (
    "verifyMember(uint8 eventKind, bytes32 projectionHash, bytes32 salt, bytes32[] proof)"
)
ROOT_INFO_FUNCTION = "rootInfo(bytes32 root)"
MEMBER_LEAF = (
    "keccak256(bytes.concat(keccak256(abi.encode(MEMBER_V1, uint8 2, uint8 eventKind, "
    'bytes32 projectionHash, bytes32 salt)))), MEMBER_V1 = keccak256("chaintrace.member.v1")'
)


def _erased_view(base: dict[str, Any], finality: str, erasure: EventErasure) -> dict[str, Any]:
    """An erased event: nothing of its content, not even a projection (its salts are gone, and
    what its row still says is no evidence any more); only its event's leaf, proof and root,
    and when and by whom it was erased."""
    return {
        **base,
        **dict.fromkeys(_CONTENT),
        "proven": False,
        "finality": finality,
        "erasure": {
            "status": "erased",
            "erasedAt": erasure.erased_at.isoformat(),
            "erasedBy": erasure.erased_by,
        },
    }


# What an erased event's entry leaves out: everything of its content and of its projection.
_CONTENT = (
    "type",
    "bizStep",
    "title",
    "eventTime",
    "displayTime",
    "place",
    "geo",
    "sensorSummary",
    "projection",
    "projectionHash",
    "salt",
    "note",
)


def _entry(
    session: Session,
    record: EventRecord,
    item: Item,
    members: Mapping[int, MemberLeaf],
    contracts: dict[int, str],
    erasures: Mapping[int, EventErasure],
) -> dict[str, Any] | None:
    """The item's projection of one event with its proof (None: the event projects no EPC of
    the item, so nothing of it is public); `erasures`: the history's, by event id."""
    event = record.event
    base: dict[str, Any] = {
        "eventKind": event.kind,
        "kindName": "errorDeclaration" if event.kind == 1 else "event",
    }
    member = members.get(event.id)
    readable = member is None and event.event_json != ERASED_JSON
    body = json.loads(event.event_json) if readable else None
    epc = item_epc_in(body, item.product.gtin, item.serial) if body is not None else None
    # An event that projects none of the item's EPCs is not the item's to show (a container's
    # sensor window, erased or not: an erased one's JSON is gone, its row still says its step).
    if member is None and (epc is None if readable else event.biz_step == "sensor_reporting"):
        return None
    erasure = erasures.get(event.id)
    if erasure is not None:
        anchored = anchoring_fields(session, record, contracts, erased=True)
        base |= {k: anchored[k] for k in ("leaf", "proof", "root", "anchoring")}
        return _erased_view(base, anchored["finality"], erasure)
    if member is not None and not member.erased:
        fields = proven_entry(member, contracts)
    else:
        body = json.loads(event.event_json) if body is None else body
        epc = item_epc_in(body, item.product.gtin, item.serial) if epc is None else epc
        made = projection_now(session, body, epc) if epc is not None else None
        if made is None:
            return None
        fields = unproven_entry(*made)
    return {
        **base,
        **described(session, fields["projection"], event.shipment_id, event.event_time_ms),
        **fields,
        "erasure": None,
    }


def _verify(chain: ChainAccess, contracts: dict[int, str], link: str) -> dict[str, Any]:
    how = (
        "For each history entry: recompute `projectionHash` as the CBV 2.0 canonical hash of "
        "`projection` (GS1's epcis-event-hash-generator gives it as it stands), then call "
        f"TraceAnchor.{VERIFY_FUNCTION} at the entry's `anchoring.contract` with `eventKind`, "
        "that hash, `salt` and `proof`: true once the root is anchored. Offline: the leaf is "
        f"{MEMBER_LEAF}, a StandardMerkleTree leaf (OpenZeppelin merkle-tree, encoding "
        "[bytes32, uint8, uint8, bytes32, bytes32]); hashing the proof's sorted pairs from it "
        f"gives `root`, and {ROOT_INFO_FUNCTION} says when it was anchored. An entry with "
        "`proven: false` has no proof yet. Whether the brand commissioned the item: the "
        "commissioning entry's root has rootInfo(root).brandConfirmed true and its brand (or "
        "endorsedBy) is brandOfGtin(gtin), the holder of the brand's companyPrefix."
    )
    chain_id = chain.deployment().chain_id if contracts else None
    return {
        "contract": contracts[max(contracts)] if contracts else None,  # where new roots go
        "contracts": {str(v): a for v, a in sorted(contracts.items())},
        "chainId": chain_id,
        "function": VERIFY_FUNCTION,
        "rootInfo": ROOT_INFO_FUNCTION,
        "leaf": MEMBER_LEAF,
        "how": how,
        **public_chain_fields(chain, chain_id, link),
    }


def public_chain_fields(chain: ChainAccess, chain_id: int | None, link: str) -> dict[str, Any]:
    """verify's chainName, explorerTxUrl, bundleUrl, rpcUrl and finality (api/chain_public.py,
    docs/proof-bundle.md)."""
    settings = chain.settings
    explorer = settings.explorer_url if chain_id is not None else None
    return {
        "chainName": chain_name(chain_id, settings.chain_name),
        "explorerTxUrl": f"{explorer}/tx/{{txHash}}" if explorer else None,
        "bundleUrl": f"{link}?format=bundle" if chain_id is not None else None,
        "rpcUrl": settings.public_rpc_url if chain_id is not None else None,
        "finality": {"mode": settings.finality, "confirmations": settings.confirmations},
    }


# What each verdict tells a shopper (core.verdict decides; this only words it).
VERDICT_TEXT = {
    Verdict.UNREGISTERED: "No registered brand for this product number",
    Verdict.NOT_RECOGNISED: "Not recognised: the brand never commissioned this serial",
    Verdict.BRAND_REVOKED: "Not confirmed by the brand: the brand's key was revoked",
    Verdict.BRAND_COMPROMISED: "Not confirmed by the brand: recorded while its key was compromised",
    Verdict.NOT_BRAND_SIGNED: "Not confirmed by the brand: no brand signature covers it",
    Verdict.RECALLED: "Recalled by the brand",
    Verdict.NOT_YET_CONFIRMED: "Commissioning not final yet",
    Verdict.GENUINE: "Genuine: commissioned by the brand",
}


BRAND_CHECK = (
    "rootInfo(root).brandConfirmed at `contract` is true, and rootInfo(root).brand (or "
    "endorsedBy) is brandOfGtin(gtin): the holder of the brand's companyPrefix signed the root "
    "holding the commissioning's projection"
)


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _authentic(
    decision: Decision,
    commissioning: dict[str, Any] | None,
    confirmations: int | None = None,
) -> dict[str, Any]:
    """The verdict with its reasons as data (`since`, `recall`, `confirmationsLeft`: the page
    words them); `text` and `notes` stay for the JSON's existing readers."""
    recall = decision.recall
    return {
        "verdict": decision.verdict.value,
        "text": VERDICT_TEXT[decision.verdict],
        "confirmedBy": decision.confirmed_by,
        "notes": list(decision.notes),
        "since": _iso(decision.since),
        "recall": recall
        and {"recalledAt": _iso(recall.recalled_at), "scope": recall.scope, "lot": recall.lot},
        "confirmationsLeft": confirmations,
        **_commissioning_fields(commissioning),
    }


def _unjudged(detail: str, commissioning: dict[str, Any] | None) -> dict[str, Any]:
    """No verdict: the brands' standing cannot be read now (no chain, or it is unreachable)."""
    return {
        "verdict": None,
        "text": "Authenticity cannot be checked right now",
        "confirmedBy": None,
        "notes": [detail],
        "since": None,
        "recall": None,
        "confirmationsLeft": None,
        **_commissioning_fields(commissioning),
    }


def _commissioning_fields(commissioning: dict[str, Any] | None) -> dict[str, Any]:
    """What the verdict rests on (the commissioning's finality and signer), and the root of its
    proven projection with how to check on chain that the brand confirmed it."""
    root = commissioning.get("projectionRoot") if commissioning else None
    return {
        "status": commissioning["finality"] if commissioning else "none",
        "signedByBrand": commissioning["anchoring"]["signedByBrand"] if commissioning else None,
        "root": root,
        "contract": commissioning.get("projectionContract") if commissioning else None,
        "brandCheck": BRAND_CHECK if root else None,
    }


def _commissioning(
    session: Session,
    records: list[EventRecord],
    entries: list[dict[str, Any] | None],
    item: Item,
    contracts: dict[int, str],
) -> dict[str, Any] | None:
    """The commissioning's finality and signer (its event's own leaf: what the verdict rests
    on) and its proven projection's root."""
    for record, entry in zip(records, entries, strict=True):
        if record.event.id != item.commission_event_id:
            continue
        anchored = anchoring_fields(session, record, contracts, erased=True)
        # Only a root the brand signed speaks for it: a projection the backfill added later
        # (an item commissioned before kind 2 leaves) sits in a platform root, shown as proven
        # but never offered as the brand's word.
        proven = (
            entry is not None
            and bool(entry.get("proven"))
            and entry["anchoring"].get("signedByBrand") is not None
        )
        return {
            "finality": anchored["finality"],
            "anchoring": anchored["anchoring"],
            "projectionRoot": entry["root"] if proven and entry else None,
            "projectionContract": entry["anchoring"]["contract"] if proven and entry else None,
        }
    return None


def authentic_view(
    session: Session,
    item: Item,
    commissioning: dict[str, Any] | None,
    chain: ChainAccess,
    contracts: dict[int, str],
) -> dict[str, Any]:
    """The verdict (core.verdict on the follower's view) and the facts shown beside it."""
    try:
        brands = ledger(session, chain)
        decision = verdict(item_facts(session, item, brands, contracts))
        left = None
        if decision.verdict is Verdict.NOT_YET_CONFIRMED and commissioning is not None:
            left = confirmations_left(
                chain.finality_mode(),
                chain.settings.confirmations,
                commissioning["anchoring"]["blockNumber"],
                followed_height(session),
            )
    except ChainUnavailable as exc:
        return _unjudged(str(exc.detail), commissioning)
    return _authentic(decision, commissioning, left)


def unknown_item_view(
    session: Session,
    gtin14: str,
    chain: ChainAccess,
    serial: str | None = None,
    lot: str | None = None,
    base_url: str = "",
) -> dict[str, Any]:
    """The verdict on a serial the store does not know under `gtin14` (or a lot other than the
    item's): the code scanned (`code`, given the serial); for a not-recognised code, the brand
    holding the prefix (`brand`, else null) and where shoppers report it (`report`, else null)."""
    code = None if serial is None else {"gtin": gtin14, "serial": serial, "lot": lot}
    try:
        unknown = judge_unknown(session, gtin14, chain)
    except ChainUnavailable as exc:
        return {**_unjudged(str(exc.detail), None), "code": code, "brand": None, "report": None}
    view = _authentic(unknown.decision, None)
    view["code"] = code
    brand = unknown.brand if unknown.decision.verdict is Verdict.NOT_RECOGNISED else None
    view["brand"] = brand and {"name": brand.name, "companyPrefix": brand.company_prefix}
    view["report"] = None
    if unknown.reportable and serial is not None:
        view["report"] = {
            "url": f"{base_url}/reports",
            "formUrl": f"{base_url}/reports/form",
            "link": code_path(gtin14, serial, lot),
        }
    return view


def item_view(
    session: Session,
    item: Item,
    base_url: str,
    chain: ChainAccess,
    languages: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything the resolver shows about one item; the brand's content in the first of
    `languages` (the viewer's, most preferred first) it has."""
    product = item.product
    brand = product.brand
    contracts = anchor_releases(chain)
    records = item_history(session, product.gtin, item.serial)
    members = {m.event_id: m for m in member_leaves_of_item(session, item, records)}
    erasures = erasures_of(session, [r.event.id for r in records])
    entries = [_entry(session, r, item, members, contracts, erasures) for r in records]
    commissioning = _commissioning(session, records, entries, item, contracts)
    history = [e for e in entries if e is not None]
    key: dict[str, Any] = {
        "gtin": product.gtin,
        "serial": item.serial,
        "epc": epc_of(item),
        "link": item_link(base_url, product.gtin, item.serial),
    }
    if item.lot is not None:
        key["lot"] = item.lot
    if item.expiry is not None:
        key["expiry"] = item.expiry.isoformat()
    verify = _verify(chain, contracts, key["link"])
    explorer = chain.settings.explorer_url if verify["chainId"] is not None else None
    for entry in history:
        if entry["anchoring"] is not None:
            entry["anchoring"]["explorerUrl"] = tx_url(explorer, entry["anchoring"]["txHash"])
    return {
        "item": key,
        "product": {"gtin": product.gtin, "name": product.name},
        "brand": {
            "name": brand.name,
            "companyPrefix": brand.company_prefix,
            "walletAddress": brand.principal.wallet_address,
        },
        "authentic": authentic_view(session, item, commissioning, chain, contracts),
        "history": history,
        "coldChain": item_cold_chain(session, item, chain),
        "verify": verify,
        "content": content_view(session, product, languages),
    }
