"""What a captured event claims rights over: a chaintrace shipment it names, a commissioning.

Write rights (DESIGN.md "Public and private views"): an event naming a chaintrace shipment passes
the shipment's rules whichever endpoint it arrives through, so the capture must find which
shipment it names; a commissioning (action ADD, bizStep commissioning) is the brand's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from core.epcis.events import SHIPMENT_URN, short_biz_step

_SHIPMENT = SHIPMENT_URN.lower()
_REFERENCE = re.compile(r"/bizTransactionList/[0-9]+/bizTransaction")


def _strings(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{pointer}/{index}")


def shipment_reference(event: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """(JSON pointer, shipment id) of the first bizTransaction of bizTransactionList naming a
    chaintrace shipment; the id is None, and the pointer the offending string's, when any string
    of `event` names one elsewhere or not as a bizTransaction starting with the shipment URN
    (the one place an event names its shipment), wherever it stands. None: names none."""
    found: tuple[str, str | None] | None = None
    for pointer, text in _strings(event, ""):
        # Case-insensitive: the "urn" scheme and the NID are (RFC 8141), and the id is hex.
        lowered = text.lower()
        if _SHIPMENT not in lowered:
            continue
        if not (_REFERENCE.fullmatch(pointer) and lowered.startswith(_SHIPMENT)):
            return pointer, None
        found = found or (pointer, text[len(SHIPMENT_URN) :])
    return found


def is_commissioning(event: Mapping[str, Any]) -> bool:
    """Whether `event` commissions: action ADD with the CBV bizStep commissioning."""
    return event.get("action") == "ADD" and short_biz_step(event.get("bizStep")) == "commissioning"
