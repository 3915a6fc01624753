"""The in-memory half of an EPCIS 2.0 query (store/epcis_query.py): the filters that need an
event's JSON, and which brand's company prefix an EPC falls under. Exact comparisons on parsed
JSON, never substrings."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.epcis.events import short_biz_step

_DISPOSITION_PREFIXES = (
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/Disp-",
    "https://gs1.org/voc/Disp-",
    "cbv:Disp-",
)
_BIZ_TRANSACTION_TYPE_PREFIXES = (
    "urn:epcglobal:cbv:btt:",
    "https://ref.gs1.org/cbv/BTT-",
    "https://gs1.org/voc/BTT-",
    "cbv:BTT-",
)
_MEASUREMENT_TYPE_PREFIXES = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "gs1:")
_ID, _IDPAT = "urn:epc:id:", "urn:epc:idpat:"
# Schemes whose second field starts with a digit that is not part of the key under the prefix
# (the indicator of a GTIN, the extension digit of an SSCC).
_LEADING_DIGIT = frozenset({"sgtin", "sscc"})


def _short(value: object, prefixes: Sequence[str]) -> str | None:
    """The CBV / GS1 short name of a vocabulary value, whichever spelling; a custom URI as is."""
    if not isinstance(value, str):
        return None
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def short_disposition(value: object) -> str | None:
    """The CBV short name of a disposition, whichever spelling; a custom URI as it is."""
    return _short(value, _DISPOSITION_PREFIXES)


def short_biz_transaction_type(value: object) -> str | None:
    """The CBV short name of a bizTransaction type ('po'), whichever spelling."""
    return _short(value, _BIZ_TRANSACTION_TYPE_PREFIXES)


def short_measurement_type(value: object) -> str | None:
    """The GS1 short name of a sensorReport type ('Temperature'), whichever spelling."""
    return _short(value, _MEASUREMENT_TYPE_PREFIXES)


def epc_matches(epc: object, wanted: str) -> bool:
    """Whether `epc` is `wanted` or falls under the EPC pattern `wanted`
    (urn:epc:idpat:<scheme>:<field>.<field>... with `*` for any field)."""
    if not isinstance(epc, str):
        return False
    if not wanted.startswith(_IDPAT):
        return epc == wanted
    scheme, _, fields = wanted[len(_IDPAT) :].partition(":")
    head = f"{_ID}{scheme}:"
    if not epc.startswith(head):
        return False
    got, want = epc[len(head) :].split("."), fields.split(".")
    return len(got) == len(want) and all(w in ("*", g) for g, w in zip(got, want, strict=True))


def _list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    return value if isinstance(value, list) else []


def epcs_of(body: Mapping[str, Any], fields: Iterable[str]) -> Iterator[Any]:
    """The EPCs of the named fields: epcList, childEPCs, inputEPCList, outputEPCList, parentID."""
    for name in fields:
        if name == "parentID":
            if "parentID" in body:
                yield body["parentID"]
        else:
            yield from _list(body, name)


EPC_FIELDS = ("epcList", "childEPCs")
ANY_EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList", "parentID")


def _any_epc(body: Mapping[str, Any], fields: Sequence[str], wanted: Sequence[str]) -> bool:
    return any(epc_matches(epc, w) for epc in epcs_of(body, fields) for w in wanted)


def _location(body: Mapping[str, Any], name: str) -> object:
    place = body.get(name)
    return place.get("id") if isinstance(place, Mapping) else None


def _objects(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _has_biz_transaction(body: Mapping[str, Any], kind: str, values: Sequence[str]) -> bool:
    """A bizTransactionList entry of the type (CBV short name) with one of the values."""
    return any(
        short_biz_transaction_type(entry.get("type")) == kind
        and entry.get("bizTransaction") in values
        for entry in _objects(body.get("bizTransactionList"))
    )


_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "GT": operator.gt,
    "GE": operator.ge,
    "LT": operator.lt,
    "LE": operator.le,
}
SENSOR_VALUE_FIELDS = ("value", "minValue", "maxValue", "meanValue", "percValue")


@dataclass(frozen=True)
class SensorBound:
    """`<op>_<name>_<uom>`: a sensorReport whose `uom` is `uom` and whose field `name` (one of
    SENSOR_VALUE_FIELDS) compares to `limit` by `op` (GT, GE, LT, LE). No unit conversion: a
    report in another unit fails it. Compared as decimals (a float by its shortest repr)."""

    op: str
    name: str
    uom: str
    limit: Decimal

    def holds(self, report: Mapping[str, Any]) -> bool:
        number = report.get(self.name)
        if report.get("uom") != self.uom or not isinstance(number, int | float):
            return False
        if isinstance(number, bool):
            return False
        value = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
        return value.is_finite() and _COMPARE[self.op](value, self.limit)


@dataclass(frozen=True)
class SensorFilters:
    """The sensor parameters. One sensorReport must pass them all together: its type is one of
    `types` (GS1 short name), its deviceID (or its element's sensorMetadata's) one of
    `device_ids`, and every bound holds on it."""

    types: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()
    bounds: tuple[SensorBound, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.types or self.device_ids or self.bounds)

    def _report_passes(self, report: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
        types = {short_measurement_type(t) for t in self.types}
        if types and short_measurement_type(report.get("type")) not in types:
            return False
        devices = {report.get("deviceID"), metadata.get("deviceID")}
        if self.device_ids and not devices & set(self.device_ids):
            return False
        return all(bound.holds(report) for bound in self.bounds)

    def matches(self, body: Mapping[str, Any]) -> bool:
        for element in _objects(body.get("sensorElementList")):
            metadata = element.get("sensorMetadata")
            metadata = metadata if isinstance(metadata, Mapping) else {}
            reports = _objects(element.get("sensorReport"))
            if any(self._report_passes(report, metadata) for report in reports):
                return True
        return False


@dataclass(frozen=True)
class JsonFilters:
    """The query's filters on an event's JSON; an empty tuple does not filter."""

    biz_steps: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    match_epc: tuple[str, ...] = ()
    match_any_epc: tuple[str, ...] = ()
    match_parent_id: tuple[str, ...] = ()
    match_input_epc: tuple[str, ...] = ()
    match_output_epc: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    # EQ_bizTransaction_<type>: (type's CBV short name, values); every pair must match.
    biz_transactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sensors: SensorFilters = field(default_factory=SensorFilters)

    def matches(self, body: Mapping[str, Any], ni: str) -> bool:
        """Whether the event (its JSON, and its hash as ni:///) passes every filter."""
        steps = self.biz_steps
        step = body.get("bizStep")
        if steps and not (step in steps or short_biz_step(step) in map(short_biz_step, steps)):
            return False
        if self.actions and body.get("action") not in self.actions:
            return False
        dispositions = {short_disposition(d) for d in self.dispositions}
        if dispositions and short_disposition(body.get("disposition")) not in dispositions:
            return False
        if self.read_points and _location(body, "readPoint") not in self.read_points:
            return False
        if self.biz_locations and _location(body, "bizLocation") not in self.biz_locations:
            return False
        if self.event_ids and not ({ni, body.get("eventID")} & set(self.event_ids)):
            return False
        for fields, wanted in (
            (EPC_FIELDS, self.match_epc),
            (ANY_EPC_FIELDS, self.match_any_epc),
            (("parentID",), self.match_parent_id),
            (("inputEPCList",), self.match_input_epc),
            (("outputEPCList",), self.match_output_epc),
        ):
            if wanted and not _any_epc(body, fields, wanted):
                return False
        if not all(_has_biz_transaction(body, t, v) for t, v in self.biz_transactions):
            return False
        return not self.sensors or self.sensors.matches(body)


def key_digits(epc: object) -> str | None:
    """The digits of an EPC URI's key that a company prefix starts (company prefix and the rest
    of the key, without a GTIN's indicator or an SSCC's extension digit), or None."""
    if not isinstance(epc, str) or not epc.startswith(_ID):
        return None
    scheme, _, rest = epc[len(_ID) :].partition(":")
    fields = rest.split(".")
    if len(fields) < 2 or not fields[0].isdigit():
        return None
    second = fields[1]
    if scheme in _LEADING_DIGIT:
        second = second[1:]
    return fields[0] + (second if second.isdigit() else "")


def owner_prefix(epc: object, prefixes: Iterable[str]) -> str | None:
    """The longest registered company prefix the EPC's key starts with, or None."""
    digits = key_digits(epc)
    if digits is None:
        return None
    held = [p for p in prefixes if digits.startswith(p)]
    return max(held, key=len) if held else None


def names_prefix(body: Mapping[str, Any], prefix: str, registered: Iterable[str]) -> bool:
    """Whether one of the event's EPCs falls under `prefix` as its longest registered prefix."""
    registered = tuple(registered)
    return any(owner_prefix(epc, registered) == prefix for epc in epcs_of(body, ANY_EPC_FIELDS))
