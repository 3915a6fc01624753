"""Shape checks on untrusted EPCIS input, so that malformed events fail with a clear EpcisError."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.epcis.cbv import EVENT_TYPES
from core.epcis.errors import EpcisError

# Real events nest about 6 levels; 64 stays far below Python's recursion limit.
MAX_DEPTH = 64

_STRINGS = (
    "eventTime",
    "eventTimeZoneOffset",
    "recordTime",
    "eventID",
    "action",
    "bizStep",
    "disposition",
    "parentID",
    "transformationID",
)
_STRING_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_LOCATIONS = ("readPoint", "bizLocation")
_PARTY_LISTS = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_OBJECTS = ("errorDeclaration", "ilmd")


def _kind(value: Any) -> str:
    return type(value).__name__


def check_json(value: Any, path: str, depth: int = 0) -> None:
    """Raise EpcisError unless `value` is plain JSON: objects with string keys, finite numbers."""
    if depth > MAX_DEPTH:
        raise EpcisError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str | bool | int | None):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EpcisError(f"{path}: number {value} is not finite")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EpcisError(f"{path}: object key {key!r} is not a string")
            if key == "#text" and not isinstance(item, str):
                raise EpcisError(f"{path}.#text: must be a string, got {_kind(item)}")
            check_json(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json(item, f"{path}[{index}]", depth + 1)
        return
    raise EpcisError(f"{path}: {_kind(value)} is not a JSON value")


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise EpcisError(f"{path}: must be a string, got {_kind(value)}")


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EpcisError(f"{path}: must be an object, got {_kind(value)}")
    return value


def _objects(value: Any, path: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        raise EpcisError(f"{path}: must be a list, got {_kind(value)}")
    return [_object(item, f"{path}[{index}]") for index, item in enumerate(value)]


def _strings(value: Any, path: str) -> None:
    if not isinstance(value, list | tuple):
        raise EpcisError(f"{path}: must be a list of strings, got {_kind(value)}")
    for index, item in enumerate(value):
        _string(item, f"{path}[{index}]")


def _optional(obj: Mapping[str, Any], key: str, path: str, check: Any) -> None:
    if key in obj:
        check(obj[key], f"{path}.{key}")


def _sensor_element(element: Mapping[str, Any], path: str) -> None:
    if "sensorMetadata" in element:
        metadata = _object(element["sensorMetadata"], f"{path}.sensorMetadata")
        for key in ("time", "startTime", "endTime"):
            _optional(metadata, key, f"{path}.sensorMetadata", _string)
    if "sensorReport" in element:
        for index, report in enumerate(_objects(element["sensorReport"], f"{path}.sensorReport")):
            _optional(report, "time", f"{path}.sensorReport[{index}]", _string)


def check_event(event: Any) -> Mapping[str, Any]:
    """Raise EpcisError unless `event` is a JSON EPCIS 2.0 event with well-typed standard fields."""
    if not isinstance(event, Mapping):
        raise EpcisError(f"an EPCIS event must be a JSON object, got {_kind(event)}")
    check_json(event, "event")
    if "type" not in event:
        raise EpcisError("event: missing 'type'")
    if not isinstance(event["type"], str) or event["type"] not in EVENT_TYPES:
        raise EpcisError(f"event.type: unknown event type {event['type']!r}")
    if "eventTime" not in event:
        raise EpcisError("event: missing 'eventTime'")
    for key in _STRINGS:
        _optional(event, key, "event", _string)
    for key in _STRING_LISTS:
        _optional(event, key, "event", _strings)
    if "certificationInfo" in event and not isinstance(event["certificationInfo"], str):
        _strings(event["certificationInfo"], "event.certificationInfo")
    for key in _QUANTITY_LISTS:
        for index, element in enumerate(_objects(event.get(key, []), f"event.{key}")):
            path = f"event.{key}[{index}]"
            _string(element.get("epcClass"), f"{path}.epcClass")
            _optional(element, "uom", path, _string)
            quantity = element.get("quantity", 0)
            if isinstance(quantity, bool) or not isinstance(quantity, int | float):
                raise EpcisError(f"{path}.quantity: must be a number, got {_kind(quantity)}")
    for key in _LOCATIONS:
        if key in event:
            _string(_object(event[key], f"event.{key}").get("id"), f"event.{key}.id")
    for key, value_key in _PARTY_LISTS.items():
        for index, element in enumerate(_objects(event.get(key, []), f"event.{key}")):
            _string(element.get(value_key), f"event.{key}[{index}].{value_key}")
            _optional(element, "type", f"event.{key}[{index}]", _string)
    if "persistentDisposition" in event:
        disposition = _object(event["persistentDisposition"], "event.persistentDisposition")
        for key in ("set", "unset"):
            _optional(disposition, key, "event.persistentDisposition", _strings)
    for index, element in enumerate(
        _objects(event.get("sensorElementList", []), "event.sensorElementList")
    ):
        _sensor_element(element, f"event.sensorElementList[{index}]")
    for key in _OBJECTS:
        _optional(event, key, "event", _object)
    return event


def check_namespaces(namespaces: Any) -> Mapping[str, str]:
    """Raise EpcisError unless `namespaces` maps prefixes to namespace IRIs (all strings)."""
    if namespaces is None:
        return {}
    if not isinstance(namespaces, Mapping):
        raise EpcisError(f"context must map prefixes to namespaces, got {_kind(namespaces)}")
    for prefix, namespace in namespaces.items():
        if not isinstance(prefix, str) or not isinstance(namespace, str):
            raise EpcisError(f"context: {prefix!r} -> {namespace!r} is not a string pair")
    return namespaces
