"""The consumer's view of an item: history with proofs and finality, for JSON and the page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.anchoring_view import anchoring_fields
from api.brand_state import anchor_releases, ledger
from api.catalog import epc_of
from api.errors import ChainUnavailable
from api.event_summary import describe
from api.links import item_link
from api.state import ChainAccess
from api.unknown_code import code_path, judge_unknown
from core.verdict import Decision, Verdict, verdict
from store.brand_standing import item_facts
from store.erasure import erasure_of
from store.models import EventErasure, Item, Reading, Shipment
from store.queries import EventRecord, item_history

VERIFY_FUNCTION = "verify(uint8 kind, bytes32 eventHash, bytes32 salt, bytes32[] proof)"
_TITLES = {
    "commissioning": "Commissioned",
    "packing": "Packed",
    "shipping": "Shipped",
    "arriving": "Arrived",
    "receiving": "Received",
    "sensor_reporting": "Sensor report",
    "decommissioning": "Decommissioned",
}


def _display_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _readings_summary(session: Session, shipment: Shipment, until_ms: int) -> dict[str, Any] | None:
    """Count and temperature range of a shipment's readings up to an event's time."""
    count, low, high = session.execute(
        select(
            func.count(),
            func.min(Reading.temperature_centi_c),
            func.max(Reading.temperature_centi_c),
        ).where(Reading.shipment_id == shipment.id, Reading.taken_at_ms <= until_ms)
    ).one()
    if not count:
        return None
    return {
        "readings": int(count),
        "minTemperatureC": low / 100,
        "maxTemperatureC": high / 100,
        "excursionMinutes": shipment.excursion_minutes,
    }


def _erased_view(base: dict[str, Any], erasure: EventErasure) -> dict[str, Any]:
    """An erased event: its JSON and salt are gone, and what its row still says (step, time,
    places, CBV hash) is no evidence any more: nothing anchored backs it, and the unsalted hash
    would confirm a guess of the erased content. Only its leaf, root, proof and anchoring."""
    return {
        **base,
        **dict.fromkeys(_CONTENT),
        "erasure": {
            "status": "erased",
            "erasedAt": erasure.erased_at.isoformat(),
            "erasedBy": erasure.erased_by,
        },
    }


# What an erased event's view leaves out: everything its row or JSON says of its content.
_CONTENT = (
    "type",
    "bizStep",
    "title",
    "eventTime",
    "displayTime",
    "eventHash",
    "eventHashHex",
    "salt",
    "readPoint",
    "bizLocation",
    "place",
    "gps",
    "sensorSummary",
    "event",
)


def _event_view(session: Session, record: EventRecord, contracts: dict[int, str]) -> dict[str, Any]:
    event = record.event
    erasure = erasure_of(session, event.id)
    base = {
        "id": event.id,
        "kind": event.kind,
        "kindName": "errorDeclaration" if event.kind == 1 else "event",
        **anchoring_fields(session, record, contracts, erased=erasure is not None),
    }
    if erasure is not None:
        return _erased_view(base, erasure)
    body = json.loads(event.event_json)
    details = describe(body)
    biz_step = event.biz_step
    # A sensor report summarises its own window; the receiving event sums up the whole trip
    # (with the attested excursion minutes once there are some); other events carry none.
    sensor_summary = None
    temps = (details["sensors"] or {}).get("Temperature")
    if temps:
        sensor_summary = {
            "readings": None,  # the window's count is not in the event; its evidence root is
            "minTemperatureC": temps["min"],
            "maxTemperatureC": temps["max"],
            "excursionMinutes": None,
        }
    elif biz_step == "receiving" and event.shipment_id is not None:
        shipment = session.get(Shipment, event.shipment_id)
        if shipment is not None:
            sensor_summary = _readings_summary(session, shipment, event.event_time_ms)
    return {
        **base,
        "type": event.event_type,
        "bizStep": biz_step,
        "title": _TITLES.get(biz_step or "", (biz_step or event.event_type).replace("_", " ")),
        "eventTime": body.get("eventTime"),
        "displayTime": _display_time(event.event_time_ms),
        "readPoint": details["readPoint"],
        "bizLocation": details["bizLocation"],
        "place": details["place"],
        "gps": details["gps"],
        "sensorSummary": sensor_summary,
        "event": body,
        "erasure": None,
    }


def _verify(chain: ChainAccess, contracts: dict[int, str]) -> dict[str, Any]:
    how = (
        "Recompute each event's CBV 2.0 canonical hash from `event`, then call "
        f"TraceAnchor.{VERIFY_FUNCTION} at the event's `anchoring.contract` with the event's "
        "kind, hash, salt and proof; or verifyAgainst(root, ...) to pin the root. A proof exists "
        "once the event is anchored. On TraceAnchor v2, verifyBrandConfirmed(gtin, kind, hash, "
        "salt, proof) says whether the commissioning is the word of the brand holding the "
        "GTIN's prefix."
    )
    return {
        "contract": contracts[max(contracts)] if contracts else None,  # where new roots go
        "contracts": {str(v): a for v, a in sorted(contracts.items())},
        "chainId": chain.deployment().chain_id if contracts else None,
        "function": VERIFY_FUNCTION,
        "how": how,
    }


# What each verdict tells a shopper (core.verdict decides; this only words it).
VERDICT_TEXT = {
    Verdict.UNREGISTERED: "No registered brand for this product number",
    Verdict.NOT_RECOGNISED: "Not recognised: the brand never commissioned this serial",
    Verdict.BRAND_REVOKED: "Not confirmed by the brand: the brand's key was revoked",
    Verdict.BRAND_COMPROMISED: "Not confirmed by the brand: recorded while its key was compromised",
    Verdict.NOT_BRAND_SIGNED: "Not confirmed by the brand: no brand signature covers it",
    Verdict.NOT_YET_CONFIRMED: "Commissioning not final yet",
    Verdict.GENUINE: "Genuine: commissioned by the brand",
}


def _authentic(decision: Decision, commissioning: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "verdict": decision.verdict.value,
        "text": VERDICT_TEXT[decision.verdict],
        "confirmedBy": decision.confirmed_by,
        "notes": list(decision.notes),
        "status": commissioning["finality"] if commissioning else "none",
        "signedByBrand": commissioning["anchoring"]["signedByBrand"] if commissioning else None,
    }


def _unjudged(detail: str, commissioning: dict[str, Any] | None) -> dict[str, Any]:
    """No verdict: the brands' standing cannot be read now (no chain, or it is unreachable)."""
    return {
        "verdict": None,
        "text": "Authenticity cannot be checked right now",
        "confirmedBy": None,
        "notes": [detail],
        "status": commissioning["finality"] if commissioning else "none",
        "signedByBrand": commissioning["anchoring"]["signedByBrand"] if commissioning else None,
    }


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
    except ChainUnavailable as exc:
        return _unjudged(str(exc.detail), commissioning)
    return _authentic(verdict(item_facts(session, item, brands, contracts)), commissioning)


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


def item_view(session: Session, item: Item, base_url: str, chain: ChainAccess) -> dict[str, Any]:
    """Everything the resolver shows about one item."""
    product = item.product
    brand = product.brand
    contracts = anchor_releases(chain)
    history = [
        _event_view(session, r, contracts) for r in item_history(session, product.gtin, item.serial)
    ]
    commissioning = next((e for e in history if e["id"] == item.commission_event_id), None)
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
        "verify": _verify(chain, contracts),
    }
