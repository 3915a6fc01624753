"""What a reader wants from a stored EPCIS event: where, GPS, and its sensor reports summed up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.epcis.events import CT_GEO


def _geo(value: object) -> dict[str, float] | None:
    if not isinstance(value, str) or not value.startswith("geo:"):
        return None
    try:
        lat_text, lon_text = value[4:].split(";", 1)[0].split(",")[:2]
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"lat": lat, "lon": lon}


def _location_id(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def describe(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a reader wants from an event: where, GPS, and a summary of its sensor reports."""
    read_point = _location_id(event, "readPoint")
    biz_location = _location_id(event, "bizLocation")
    gps = _geo(event.get(CT_GEO)) or _geo(read_point)
    place = biz_location or (read_point if read_point and not _geo(read_point) else None)
    return {
        "readPoint": read_point,
        "bizLocation": biz_location,
        "place": place,
        "gps": gps,
        "sensors": _sensor_summary(event.get("sensorElementList")),
    }


def _sensor_summary(elements: object) -> dict[str, Any] | None:
    """Min / max / count per measurement type of an event's sensorElementList."""
    if not isinstance(elements, list):
        return None
    by_type: dict[str, dict[str, Any]] = {}
    for element in elements:
        reports = element.get("sensorReport") if isinstance(element, Mapping) else None
        for report in reports if isinstance(reports, list) else []:
            if not isinstance(report, Mapping):
                continue
            kind = str(report.get("type", "unknown")).rsplit("-", 1)[-1].rsplit(":", 1)[-1]
            values = [
                report[k]
                for k in ("value", "minValue", "maxValue")
                if isinstance(report.get(k), int | float) and not isinstance(report.get(k), bool)
            ]
            if not values:
                continue
            entry = by_type.setdefault(
                kind, {"count": 0, "min": None, "max": None, "uom": report.get("uom")}
            )
            entry["count"] += 1
            low, high = min(values), max(values)
            entry["min"] = low if entry["min"] is None else min(entry["min"], low)
            entry["max"] = high if entry["max"] is None else max(entry["max"], high)
    return by_type or None
