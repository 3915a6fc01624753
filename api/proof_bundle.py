"""The item's proof bundle (docs/proof-bundle.md, profile `public-item`): what the item page shows
of its proofs, as one file to check offline and against the chain (`chaintrace verify-bundle`).

Built from item_view's answer only: no second source that could tell another story."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response

from chain.releases import TRACE_ANCHOR_V2
from core.proof_bundle import BUNDLE_FORMAT, BUNDLE_MEDIA_TYPE, BUNDLE_VERSION, PUBLIC_ITEM

_ITEM_KEYS = ("gtin", "serial", "epc", "link", "lot", "expiry")


def _entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    anchoring = entry["anchoring"]
    return {
        "eventKind": entry["eventKind"],
        "bizStep": entry["bizStep"],
        "eventTime": entry["eventTime"],
        "projection": entry["projection"],
        "projectionHash": entry["projectionHash"],
        "salt": entry["salt"],
        "leaf": entry["leaf"],
        "proof": entry["proof"],
        "root": entry["root"],
        "finality": entry["finality"],
        "anchoring": {
            "contract": anchoring["contract"],
            "txHash": anchoring["txHash"],
            "blockNumber": anchoring["blockNumber"],
            "signedByBrand": anchoring["signedByBrand"],
        },
    }


def _provable(entry: Mapping[str, Any]) -> bool:
    """A proven projection whose root went to a known TraceAnchor (what a bundle can prove)."""
    anchoring = entry.get("anchoring") or {}
    return (
        bool(entry.get("proven"))
        and entry.get("erasure") is None
        and bool(anchoring.get("contract"))
    )


def proof_bundle(view: Mapping[str, Any]) -> dict[str, Any]:
    """The `public-item` bundle of an item_view answer."""
    verify, authentic = view["verify"], view["authentic"]
    entries = [_entry(e) for e in view["history"] if _provable(e)]
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "profile": PUBLIC_ITEM,
        "chain": {"chainId": verify["chainId"], "name": verify["chainName"]},
        "contracts": [
            {"name": TRACE_ANCHOR_V2.name, "version": int(v), "address": a}
            for v, a in verify["contracts"].items()
        ],
        "finality": verify["finality"],
        "item": {k: view["item"][k] for k in _ITEM_KEYS if k in view["item"]},
        "brand": {
            "name": view["brand"]["name"],
            "companyPrefix": view["brand"]["companyPrefix"],
        },
        "brandCheck": {
            "root": authentic["root"],
            "contract": authentic["contract"],
            "verdict": authentic["verdict"],
        }
        if authentic.get("root")
        else None,
        "entries": entries,
        "notIncluded": len(view["history"]) - len(entries),
    }


def bundle_response(view: Mapping[str, Any], headers: Mapping[str, str]) -> Response:
    """The bundle as a download named after the item's GTIN and serial (503 without a chain:
    there is nothing to check a bundle against)."""
    if view["verify"]["chainId"] is None:
        detail = "no chain is configured for this resolver: there is no proof bundle"
        return JSONResponse({"detail": detail}, 503, headers=dict(headers))
    item = view["item"]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item["serial"])[:60]
    name = f"chaintrace-{item['gtin']}-{safe}.proof-bundle.json"
    body = json.dumps(proof_bundle(view), indent=2, ensure_ascii=False).encode("utf-8")
    return Response(
        body,
        media_type=BUNDLE_MEDIA_TYPE,
        headers={**headers, "Content-Disposition": f'attachment; filename="{name}"'},
    )
