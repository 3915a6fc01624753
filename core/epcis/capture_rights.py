"""Which captured events the generic EPCIS capture refuses, pointing at their dedicated endpoint.

First slice of the write rights (DESIGN.md "Public and private views"): an event naming a
chaintrace shipment goes through POST /shipments/{id}/events (role, time order, backdating,
funding), a commissioning (action ADD, bizStep commissioning) through POST /products/{gtin}/items
(the brand holding the prefix signs it). Routing them through those checks from here is left.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from core.epcis.events import SHIPMENT_URN, short_biz_step

_SHIPMENT = SHIPMENT_URN.lower()


def _strings(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{pointer}/{index}")


def refusal(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(JSON pointer, why) if the generic capture must refuse `event`; else None."""
    for pointer, text in _strings(event, ""):
        # Case-insensitive: the "urn" scheme and the NID are (RFC 8141), and the id is hex.
        if _SHIPMENT in text.lower():
            return (
                pointer,
                "names a chaintrace shipment: record its events with POST "
                "/shipments/{shipment_id}/events, which checks the parties' roles and times",
            )
    if event.get("action") == "ADD" and short_biz_step(event.get("bizStep")) == "commissioning":
        return (
            "/bizStep",
            "a commissioning (action ADD) is the brand's: commission items with POST "
            "/products/{gtin}/items",
        )
    return None
