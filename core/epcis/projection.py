"""Public projections of events (consensus-critical: projection v1, leaf kind 2; no I/O).

P(event, epc) is what the public may see of an event for one EPC it names (DESIGN.md "Public and
private views"): a valid EPCIS 2.0 event keeping only

  @context (the EPCIS 2.0 context alone), type, eventTime, eventTimeZoneOffset, action,
  a CBV bizStep, a CBV disposition,
  readPoint / bizLocation ids that are public (a geo URI always, at 2 decimals),
  the one EPC in the field it came from (and a transformation's transformationID, without which
  a TransformationEvent naming one EPC of one side is not valid EPCIS),
  sensor statistics (times, a GS1 measurement type, a UN/CEFACT uom, numeric values) without
  deviceID, rawData or anything else;

nothing else: no eventID, recordTime, other EPCs, quantities, business transactions, sources,
destinations, ILMD, certification, error declaration or extension. Its CBV 2.0 canonical hash
(`projection_hash`) goes into the kind 2 leaf `core.merkle.member_leaf_hash(eventKind,
projectionHash, salt)`. Only object, aggregation and transformation events are projected.

Changing what P keeps changes every projection hash anchored: that is a projection v2, beside v1.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from typing import Any, NamedTuple

from core.epcis.cbv import BIZ_STEPS, CBV, DISPOSITIONS, GS1, MEASUREMENT_TYPES
from core.epcis.extension import EPCIS_CONTEXT
from core.epcis.hashing import event_hash

PROJECTION_VERSION = 1
PROJECTED_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent")

# The instance-level EPC fields of each projected event type, in the order an EPC is looked up
# (an EPC named in two fields of one event is projected once, from the first). An aggregation's
# parentID is not projected: an AggregationEvent is valid only with a child.
EPC_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ObjectEvent": ("epcList",),
    "AggregationEvent": ("childEPCs",),
    "TransformationEvent": ("inputEPCList", "outputEPCList"),
}
_KEPT = ("type", "eventTime", "eventTimeZoneOffset", "action")
_METADATA_KEPT = ("time", "startTime", "endTime")
_REPORT_KEPT = (
    "type",
    "exception",
    "time",
    "uom",
    "value",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
)
_CBV_DISPOSITIONS = frozenset(DISPOSITIONS)
_CBV_BIZ_STEPS = frozenset(BIZ_STEPS)
_MEASUREMENT_TYPES = frozenset(MEASUREMENT_TYPES)
# A value is kept only when it is a standard one: a field's name being public says nothing of
# what a partner wrote in it (a custom bizStep or sensor type URI can hold anything).
_UOM = re.compile(r"[A-Z0-9]{2,3}")
_EXCEPTION = re.compile(r"[A-Z_]{1,40}")
_GEO = re.compile(r"geo:(-?\d{1,3}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)(?:[;?].*)?", re.IGNORECASE)
GEO_DECIMALS = 2


class ProjectedEpc(NamedTuple):
    """One EPC of an event and the field naming it."""

    field: str
    epc: str


def projected_epcs(event: Mapping[str, Any]) -> list[ProjectedEpc]:
    """Every EPC an event gets a projection for, once each, in field order; [] for an event
    type that is not projected, and for a transformation without a transformationID (with one
    EPC of one side, a TransformationEvent is valid only with its transformationID)."""
    found: dict[str, ProjectedEpc] = {}
    if event.get("type") == "TransformationEvent" and not _transformation_id(event):
        return []
    for field in EPC_FIELDS.get(str(event.get("type")), ()):
        value = event.get(field)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for epc in values:
            if isinstance(epc, str) and epc and epc not in found:
                found[epc] = ProjectedEpc(field, epc)
    return list(found.values())


def _transformation_id(event: Mapping[str, Any]) -> str | None:
    value = event.get("transformationID")
    return value if isinstance(value, str) and value else None


def coarse_geo(uri: str) -> str | None:
    """A geo URI at GEO_DECIMALS decimals, its parameters dropped; None if it is not one."""
    match = _GEO.fullmatch(uri.strip())
    if match is None:
        return None
    lat, lon = (float(match.group(i)) for i in (1, 2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    # "+ 0.0" turns -0.00 into 0.00.
    lat_text, lon_text = (f"{round(v, GEO_DECIMALS) + 0.0:.{GEO_DECIMALS}f}" for v in (lat, lon))
    return f"geo:{lat_text},{lon_text}"


def _location(value: Any, public: Container[str]) -> dict[str, str] | None:
    location_id = value.get("id") if isinstance(value, Mapping) else None
    if not isinstance(location_id, str):
        return None
    if location_id.lower().startswith("geo:"):
        geo = coarse_geo(location_id)
        return None if geo is None else {"id": geo}
    return {"id": location_id} if location_id in public else None


def _standard(value: Any, names: frozenset[str], prefixes: Sequence[str]) -> str | None:
    """`value` if it is one of `names`, bare or after one of `prefixes`; else None."""
    if not isinstance(value, str):
        return None
    for prefix in prefixes:
        if value.startswith(prefix) and value[len(prefix) :] in names:
            return value
    return value if value in names else None


def _disposition(value: Any) -> str | None:
    return _standard(value, _CBV_DISPOSITIONS, (CBV + "Disp-", "urn:epcglobal:cbv:disp:"))


def _biz_step(value: Any) -> str | None:
    return _standard(value, _CBV_BIZ_STEPS, (CBV + "BizStep-", "urn:epcglobal:cbv:bizstep:"))


def _report(report: Any) -> dict[str, Any]:
    """A sensor report's statistics, if its type is a GS1 measurement type and its uom a
    UN/CEFACT code (else nothing of it)."""
    kept = _kept(report, _REPORT_KEPT)
    if _standard(kept.get("type"), _MEASUREMENT_TYPES, (GS1, "gs1:")) is None:
        return {}
    if "uom" in kept and not (isinstance(kept["uom"], str) and _UOM.fullmatch(kept["uom"])):
        return {}
    exception = kept.get("exception")
    if exception is not None and not (
        isinstance(exception, str) and _EXCEPTION.fullmatch(exception)
    ):
        del kept["exception"]
    return kept


def _kept(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        return {}
    return {name: obj[name] for name in names if name in obj and obj[name] is not None}


def _sensor_elements(value: Any) -> list[dict[str, Any]]:
    elements = []
    for element in value if isinstance(value, list) else []:
        if not isinstance(element, Mapping):
            continue
        reports = [
            kept
            for report in element.get("sensorReport") or []
            if (kept := _report(report)) and kept.keys() - {"time", "type", "uom"}
        ]
        if not reports:
            continue
        projected: dict[str, Any] = {}
        metadata = _kept(element.get("sensorMetadata"), _METADATA_KEPT)
        if metadata:
            projected["sensorMetadata"] = metadata
        projected["sensorReport"] = reports
        elements.append(projected)
    return elements


def projection(
    event: Mapping[str, Any], epc: str, public_locations: Container[str] = ()
) -> dict[str, Any]:
    """P(event, epc): the public projection of `event` for `epc` (which it must name).

    `public_locations` holds the location ids (SGLN, GLN URIs...) the public may see; any other
    readPoint or bizLocation is left out. Raises ValueError for an event type that is not
    projected or an EPC the event does not name.
    """
    named = {p.epc: p.field for p in projected_epcs(event)}
    if str(event.get("type")) not in PROJECTED_TYPES:
        raise ValueError(f"{event.get('type')!r} events have no public projection")
    if epc not in named:
        raise ValueError("the event does not name this EPC")
    head, tail = _shared(event, public_locations)
    return {**head, named[epc]: [epc], **tail}


def projections(
    event: Mapping[str, Any], public_locations: Container[str] = ()
) -> list[tuple[ProjectedEpc, dict[str, Any]]]:
    """P(event, epc) for every EPC of projected_epcs(event), in that order: exactly what
    `projection` gives for each, the part they share built once (an event of thousands of EPCs
    costs one pass, not one per EPC)."""
    named = projected_epcs(event)
    if not named:
        return []
    head, tail = _shared(event, public_locations)
    return [(p, {**head, p.field: [p.epc], **tail}) for p in named]


def _shared(
    event: Mapping[str, Any], public_locations: Container[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What every projection of the event keeps: the fields before the EPC's, those after."""
    # The standard context only (the canonical hash leaves an event's @context out): a valid
    # event on its own, which GS1's reference tool hashes as it stands.
    head: dict[str, Any] = {"@context": [EPCIS_CONTEXT], **_kept(event, _KEPT)}
    biz_step = _biz_step(event.get("bizStep"))
    if biz_step is not None:
        head["bizStep"] = biz_step
    tail: dict[str, Any] = {}
    transformation = _transformation_id(event)
    if transformation is not None:
        tail["transformationID"] = transformation
    disposition = _disposition(event.get("disposition"))
    if disposition is not None:
        tail["disposition"] = disposition
    for name in ("readPoint", "bizLocation"):
        location = _location(event.get(name), public_locations)
        if location is not None:
            tail[name] = location
    sensors = _sensor_elements(event.get("sensorElementList"))
    if sensors:
        tail["sensorElementList"] = sensors
    return head, tail


def projection_hash(projected: Mapping[str, Any]) -> bytes:
    """The CBV 2.0 canonical hash of a projection (what a kind 2 leaf commits to)."""
    return event_hash(projected)


def is_projection_of(projected: Mapping[str, Any], event: Mapping[str, Any], epc: str) -> bool:
    """Whether `projected` is exactly P(event, epc) for the locations it shows as public (the
    auditor's check: every kept field is the event's, nothing else is there)."""
    shown = {
        loc["id"]
        for name in ("readPoint", "bizLocation")
        if isinstance(loc := projected.get(name), Mapping) and isinstance(loc.get("id"), str)
    }
    try:
        return projection(event, epc, shown) == dict(projected)
    except ValueError:
        return False
