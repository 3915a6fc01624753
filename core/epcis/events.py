"""The EPCIS 2.0 events chaintrace writes: commissioning, shipping / arriving / receiving, the
packing of a shipment's items into its container, device registration; their times, the
shipment and device URNs and the stored (hashed) JSON text.

The sensor events of the gateway's roll-up are in core.epcis.sensor_events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.epcis.errors import EpcisError
from core.epcis.extension import event_context

CT_GEO = "ct:geo"
SHIPMENT_URN = "urn:chaintrace:shipment:"
DEVICE_URN = "urn:chaintrace:device:"
CT_OPERATOR, CT_REGISTRATION = "ct:operator", "ct:deviceRegistrationSignature"
# CBV 2.0 BizTransactionType of the shipment reference: bol, the carriage of the goods under the
# terms the carrier signed. Version 1 wrote the reference without a type (EPCIS allows it, GS1's
# reference hash tool crashes on it); version 2 names the type. Stored events keep their JSON.
SHIPMENT_TRANSACTION_TYPE = "bol"
# CBV 2.0 master data of a commissioning's ILMD (the EPCIS 2.0 context's `cbvmda` prefix).
LOT_NUMBER, ITEM_EXPIRATION_DATE = "cbvmda:lotNumber", "cbvmda:itemExpirationDate"
SHIPMENT_TRANSACTION_V1, SHIPMENT_TRANSACTION_V2 = 1, 2
# A shipment's container (logistic unit) EPC: a random UUID URN (RFC 9562 version 4), opaque and
# unlinkable to the shipment id or its parties (docs/formats.md "Shipment container").
CONTAINER_PREFIX = "urn:uuid:"
CONTAINER_EPC = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

BIZ_STEP_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://gs1.org/voc/BizStep-",
    "cbv:BizStep-",
)
# The disposition each step leaves the goods in (CBV 2.0).
DISPOSITIONS = {
    "commissioning": "active",
    "shipping": "in_transit",
    "arriving": "in_transit",
    "receiving": "in_progress",
    "decommissioning": "inactive",
}


def iso_ms(moment: datetime | int) -> str:
    """UTC ISO 8601 with milliseconds and Z (the form the canonical hash keeps) of an aware
    datetime or of Unix milliseconds."""
    if isinstance(moment, int):
        moment = _EPOCH + timedelta(milliseconds=moment)  # integer arithmetic: exact
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime."""
    # Integer arithmetic: float timestamps can land one millisecond off.
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time with an explicit offset, or EpcisError."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise EpcisError(f"not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise EpcisError(f"date-time without a UTC offset: {text!r}")
    return moment


def short_biz_step(value: object) -> str | None:
    """The CBV short name of a bizStep ('shipping'), whichever spelling it came in; else None."""
    if not isinstance(value, str):
        return None
    for prefix in BIZ_STEP_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value if value.isidentifier() else None


def _base(event_time: datetime, epcs: Sequence[str], action: str, biz_step: str) -> dict[str, Any]:
    return {
        "@context": event_context(),
        "type": "ObjectEvent",
        "eventTime": iso_ms(event_time),
        "eventTimeZoneOffset": "+00:00",
        "epcList": list(epcs),
        "action": action,
        "bizStep": biz_step,
        "disposition": DISPOSITIONS[biz_step],
    }


def geo_uri(lat: float, lon: float) -> str:
    """An RFC 5870 geo URI with 7 decimals (the precision readings carry)."""
    return f"geo:{lat:.7f},{lon:.7f}"


def shipment_transaction(
    shipment_id: str, version: int = SHIPMENT_TRANSACTION_V2
) -> dict[str, str]:
    """The bizTransaction naming a chaintrace shipment. Version 2 (what is written now) puts the
    type first, as GS1's examples do (the reference tool hashes pairs in JSON key order);
    version 1 only recognises events stored before it (docs/formats.md)."""
    if version == SHIPMENT_TRANSACTION_V1:
        return {"bizTransaction": SHIPMENT_URN + shipment_id}
    if version == SHIPMENT_TRANSACTION_V2:
        return {"type": SHIPMENT_TRANSACTION_TYPE, "bizTransaction": SHIPMENT_URN + shipment_id}
    raise ValueError(f"unknown shipment transaction version {version!r}")


def commissioning_event(
    epc: str,
    event_time: datetime,
    read_point: str | None,
    biz_location: str | None,
    *,
    lot: str | None = None,
    expiry: date | None = None,
) -> dict[str, Any]:
    """ObjectEvent ADD, bizStep commissioning, for one item; its lot and expiry date, if any,
    in ILMD as CBV 2.0 master data (without them the event is as before)."""
    event = _base(event_time, [epc], "ADD", "commissioning")
    if read_point:
        event["readPoint"] = {"id": read_point}
    if biz_location:
        event["bizLocation"] = {"id": biz_location}
    ilmd: dict[str, str] = {}
    if lot is not None:
        ilmd[LOT_NUMBER] = lot
    if expiry is not None:
        ilmd[ITEM_EXPIRATION_DATE] = expiry.isoformat()
    if ilmd:
        event["ilmd"] = ilmd
    return event


def shipment_event(
    biz_step: str,
    epcs: Sequence[str],
    event_time: datetime,
    shipment_id: str,
    *,
    read_point: str | None = None,
    biz_location: str | None = None,
    gps: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """ObjectEvent OBSERVE for shipping / arriving / receiving, naming the shipment."""
    event = _base(event_time, epcs, "OBSERVE", biz_step)
    if read_point:
        event["readPoint"] = {"id": read_point}
    if biz_location:
        event["bizLocation"] = {"id": biz_location}
    event["bizTransactionList"] = [shipment_transaction(shipment_id)]
    if gps is not None:
        event[CT_GEO] = geo_uri(*gps)
    return event


def packing_event(
    container: str,
    epcs: Sequence[str],
    event_time: datetime,
    shipment_id: str,
    *,
    read_point: str | None = None,
) -> dict[str, Any]:
    """AggregationEvent ADD, bizStep packing: the shipment's items (childEPCs) into its container
    (parentID), naming the shipment as its other steps do. No disposition: the shipping event
    at the same time says where the goods are."""
    if not CONTAINER_EPC.fullmatch(container):
        raise EpcisError(f"not a container EPC ({CONTAINER_PREFIX}<uuid v4>): {container!r}")
    if not epcs:
        raise EpcisError("a packing event needs at least one item")
    event: dict[str, Any] = {
        "@context": event_context(),
        "type": "AggregationEvent",
        "eventTime": iso_ms(event_time),
        "eventTimeZoneOffset": "+00:00",
        "parentID": container,
        "childEPCs": list(epcs),
        "action": "ADD",
        "bizStep": "packing",
    }
    if read_point:
        event["readPoint"] = {"id": read_point}
    event["bizTransactionList"] = [shipment_transaction(shipment_id)]
    return event


def dump(event: Mapping[str, Any]) -> str:
    """The stored form of an event: compact JSON, exactly what was hashed."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def device_event(
    address: str,
    operator: str,
    event_time: datetime,
    *,
    signature: str | None = None,
) -> dict[str, Any]:
    """The carrier's record of a device: ObjectEvent ADD commissioning with the device's
    proof-of-possession signature over DeviceRegistration(device, operator) when registered,
    ObjectEvent DELETE decommissioning when revoked (docs/devices.md)."""
    if signature is None:
        event = _base(event_time, [DEVICE_URN + address], "DELETE", "decommissioning")
    else:
        event = _base(event_time, [DEVICE_URN + address], "ADD", "commissioning")
        event[CT_REGISTRATION] = signature
    event[CT_OPERATOR] = operator
    return event
