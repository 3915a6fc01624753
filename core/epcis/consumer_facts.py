"""Consumer-facing facts an EPCIS event states, and which items it states them about (no I/O).

DESIGN.md "Write rights": consumer-facing facts (recalled, decommissioned, sold) come only from
the prefix's brand or the item's custodian. In CBV 2.0 terms an event states one when its
disposition is `recalled`, `inactive` (what `decommissioning` leaves) or `retail_sold`, or its
bizStep is `decommissioning` or `retail_selling` (docs/recalls.md). What it states them about:
every GTIN-based identifier it names, in any EPC field or quantity list: an SGTIN (URN or
Digital Link: one item), an LGTIN class or a Digital Link with a lot (every item of the lot), an
SGTIN pattern `urn:epc:idpat:sgtin:<prefix>.<item>.*` (every item of the GTIN). Any other
GTIN-based form (a pattern over several GTINs, an unparsable one) is `unclear`: such an event is
refused, never let through unchecked. Identifiers of other schemes (SSCC, devices...) are no
consumer's item.

A recall (what the verdict counts) is an ObjectEvent, action OBSERVE, disposition `recalled`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from core.digital_link import parse_gtin_key
from core.epcis.events import short_biz_step
from core.errors import Gs1Error
from core.gs1 import check_digit, parse_sgtin_urn, urn_unescape

FACT_DISPOSITIONS = {"recalled": "recalled", "inactive": "decommissioned", "retail_sold": "sold"}
FACT_BIZ_STEPS = {"decommissioning": "decommissioned", "retail_selling": "sold"}
_DISPOSITION_PREFIXES = (
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/Disp-",
    "https://gs1.org/voc/Disp-",
    "cbv:Disp-",
)
_EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_FIELDS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_SGTIN, _LGTIN, _PATTERN = "urn:epc:id:sgtin:", "urn:epc:class:lgtin:", "urn:epc:idpat:sgtin:"
_GTIN_BASED = (_SGTIN, _LGTIN, _PATTERN, "urn:epc:idpat:lgtin:")


class Subject(NamedTuple):
    """What a fact is about: one item (serial), one lot, or every item of a GTIN-14."""

    gtin: str
    serial: str | None = None
    lot: str | None = None

    @property
    def scope(self) -> str:
        """ "item", "lot" or "product"."""
        return "item" if self.serial is not None else "lot" if self.lot is not None else "product"


class Named(NamedTuple):
    """A GTIN-based identifier an event names: its JSON pointer and subject (None: unclear)."""

    pointer: str
    value: str
    subject: Subject | None


def disposition_of(event: Mapping[str, Any]) -> str | None:
    """The CBV short name of the event's disposition, whichever spelling; else None."""
    value = event.get("disposition")
    if not isinstance(value, str):
        return None
    for prefix in _DISPOSITION_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def consumer_fact(event: Mapping[str, Any]) -> str | None:
    """The consumer-facing fact the event states ("recalled", "decommissioned", "sold"), or None;
    the disposition's first (a decommissioning that leaves goods recalled is a recall)."""
    fact = FACT_DISPOSITIONS.get(disposition_of(event) or "")
    return fact or FACT_BIZ_STEPS.get(short_biz_step(event.get("bizStep")) or "")


def is_recall(event: Mapping[str, Any]) -> bool:
    """Whether `event` records a recall: ObjectEvent, action OBSERVE, disposition recalled."""
    return (
        event.get("type") == "ObjectEvent"
        and event.get("action") == "OBSERVE"
        and disposition_of(event) == "recalled"
    )


def _gtin(company: str, item: str) -> str:
    if not (company.isdigit() and item.isdigit()) or len(company) + len(item) != 13:
        raise Gs1Error("company prefix and item reference must be 13 digits")
    body = item[0] + company + item[1:]
    return body + check_digit(body)


def subject_of(value: str) -> Subject | None:
    """The subject a GTIN-based identifier names; None if it is unclear (see the module)."""
    try:
        if value.startswith(_SGTIN):
            sgtin = parse_sgtin_urn(value)
            return Subject(sgtin.gtin, serial=sgtin.serial)
        if value.startswith(_LGTIN):
            parts = value[len(_LGTIN) :].split(".", 2)
            if len(parts) != 3:
                return None
            return Subject(_gtin(parts[0], parts[1]), lot=urn_unescape(parts[2], "LGTIN lot"))
        if value.startswith(_PATTERN):
            parts = value[len(_PATTERN) :].split(".")
            if len(parts) != 3 or parts[2] != "*":
                return None
            return Subject(_gtin(parts[0], parts[1]))
        if value.startswith(("http://", "https://")):
            path = "/01/" + value.split("/01/", 1)[1].split("?", 1)[0].split("#", 1)[0]
            key = parse_gtin_key(path)
            return Subject(key.gtin, serial=key.serial, lot=None if key.serial else key.lot)
    except Gs1Error:
        return None
    return None


def _is_gtin_based(value: str) -> bool:
    if value.startswith(_GTIN_BASED):
        return True
    return value.startswith(("http://", "https://")) and "/01/" in value


def _identifiers(event: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name in _EPC_FIELDS:
        values = event.get(name)
        for index, value in enumerate(values if isinstance(values, list) else []):
            yield f"/{name}/{index}", value
    if "parentID" in event:
        yield "/parentID", event["parentID"]
    for name in _QUANTITY_FIELDS:
        elements = event.get(name)
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, Mapping):
                yield f"/{name}/{index}/epcClass", element.get("epcClass")


def named_subjects(event: Mapping[str, Any]) -> list[Named]:
    """Every GTIN-based identifier the event names, in document order, with its subject."""
    return [
        Named(pointer, value, subject_of(value))
        for pointer, value in _identifiers(event)
        if isinstance(value, str) and _is_gtin_based(value)
    ]
