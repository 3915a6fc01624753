"""Hypothesis strategies for EPCIS 2.0 JSON events that both we and the reference can hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from core.epcis import cbv

CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "http://ns.example.com/epcis/"},
]
NAMESPACES = {"example": "http://ns.example.com/epcis/"}

_SERIAL = st.text("ABCXYZabcxyz0123456789-_", min_size=1, max_size=12)
# No "i" or "n": float() reads "inf"/"infinity" as a number, and the reference crashes on them.
_WORD = st.text("abcdefghjkmpqrstuvwxyz", min_size=1, max_size=10)

epcs = st.one_of(
    st.builds("urn:epc:id:sgtin:0614141.107346.{}".format, _SERIAL),
    st.builds("urn:epc:id:sgtin:4012345.011111.{}".format, _SERIAL),
    st.builds("https://id.gs1.org/01/09520123456788/21/{}".format, _SERIAL),
    st.builds("https://example.com/gtin/9520123456788/ser/{}?a=b".format, _SERIAL),
    st.builds("urn:epc:id:sscc:0614141.{:010d}".format, st.integers(0, 10**10 - 1)),
)
locations = st.one_of(
    st.sampled_from(["0", "1234", "A1"]).map("urn:epc:id:sgln:0614141.07346.{}".format),
    st.just("https://id.gs1.org/414/4012345000016"),
    st.just("https://example.org/gln/4012345000023?x=1"),
)


def _vocabulary(names: tuple[str, ...], urn: str | None, web: str) -> st.SearchStrategy[str]:
    choices = [st.sampled_from(names), st.sampled_from(names).map(web.__add__)]
    if urn is not None:
        choices.append(st.sampled_from(names).map(urn.__add__))
    return st.one_of(*choices)


biz_steps = _vocabulary(cbv.BIZ_STEPS, "urn:epcglobal:cbv:bizstep:", cbv.CBV + "BizStep-")
dispositions = _vocabulary(cbv.DISPOSITIONS, "urn:epcglobal:cbv:disp:", cbv.CBV + "Disp-")
btts = _vocabulary(cbv.BIZ_TRANSACTION_TYPES, "urn:epcglobal:cbv:btt:", cbv.CBV + "BTT-")
sdts = _vocabulary(cbv.SOURCE_DESTINATION_TYPES, "urn:epcglobal:cbv:sdt:", cbv.CBV + "SDT-")
measurement_types = _vocabulary(cbv.MEASUREMENT_TYPES, None, cbv.GS1)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """ISO 8601 with an offset and 0-9 fraction digits; never a reference-crashing .9995+ tie."""
    moment = draw(st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1)))
    digits = draw(st.integers(0, 9))
    fraction = draw(st.text("0123456789", min_size=digits, max_size=digits))
    if fraction and round(int(fraction.ljust(6, "0")[:6]), -3) >= 1_000_000:
        fraction = "5"
    hours, minutes = draw(st.integers(0, 14)), draw(st.sampled_from([0, 30, 45]))
    sign = draw(st.sampled_from("+-"))
    offset = draw(st.sampled_from(["Z", f"{sign}{hours:02d}:{minutes:02d}"]))
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("." + fraction if fraction else "") + offset


numbers = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 4))
)
_scalars = st.one_of(_WORD, numbers, st.booleans())
extension_values = st.recursive(
    _scalars,
    lambda inner: st.dictionaries(st.sampled_from(["example:a", "example:b", "example:c"]), inner),
    max_leaves=4,
)


def _party(value_key: str, values: st.SearchStrategy[str], types: st.SearchStrategy[str]) -> Any:
    # Type first: the reference's output follows the JSON key order of these pairs.
    return st.tuples(types, values).map(lambda pair: {"type": pair[0], value_key: pair[1]})


_quantity = st.fixed_dictionaries(
    {"epcClass": st.just("urn:epc:class:lgtin:4012345.012345.998877")},
    optional={"quantity": numbers.map(abs), "uom": st.sampled_from(["KGM", "LTR"])},
)
_sensor_report = st.fixed_dictionaries(
    {"type": measurement_types},
    optional={
        "value": numbers,
        "uom": st.sampled_from(["CEL", "A93"]),
        "time": timestamps(),
        "booleanValue": st.booleans(),
        "example:note": _WORD,
    },
)
_sensor_element = st.fixed_dictionaries(
    {"sensorReport": st.lists(_sensor_report, min_size=1, max_size=3)},
    optional={
        "sensorMetadata": st.fixed_dictionaries(
            {}, optional={"time": timestamps(), "deviceID": st.just("urn:epc:id:giai:4000001.111")}
        )
    },
)

_OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "epcList": st.lists(epcs, max_size=4),
    "quantityList": st.lists(_quantity, max_size=3),
    "bizStep": biz_steps,
    "disposition": dispositions,
    "persistentDisposition": st.fixed_dictionaries(
        {},
        optional={
            "set": st.lists(dispositions, max_size=2),
            "unset": st.lists(dispositions, max_size=2),
        },
    ),
    "readPoint": st.fixed_dictionaries({"id": locations}),
    "bizLocation": st.fixed_dictionaries({"id": locations}),
    "bizTransactionList": st.lists(
        _party("bizTransaction", st.just("http://transaction.acme.com/po/1"), btts), max_size=3
    ),
    "sourceList": st.lists(_party("source", locations, sdts), max_size=2),
    "destinationList": st.lists(_party("destination", locations, sdts), max_size=2),
    "sensorElementList": st.lists(_sensor_element, max_size=2),
    "certificationInfo": st.just("https://accreditation-council.example.org/certificate/ABC12345"),
    "ilmd": st.fixed_dictionaries({"example:bestBefore": st.just("2024-12-10")}),
    "example:field": extension_values,
    "example:list": st.lists(_WORD, max_size=3),
    "errorDeclaration": st.fixed_dictionaries(
        {"declarationTime": timestamps(), "reason": st.sampled_from(cbv.ERROR_REASONS)}
    ),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """An EPCIS 2.0 JSON event with a random subset of the standard fields and extensions."""
    kind = draw(st.sampled_from(sorted(cbv.EVENT_TYPES)))
    event: dict[str, Any] = {
        "type": kind,
        "eventTime": draw(timestamps()),
        "eventTimeZoneOffset": draw(st.sampled_from(["+01:00", "-06:00", "+00:00"])),
    }
    if kind != "TransformationEvent":
        event["action"] = draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"]))
    if kind in ("AggregationEvent", "AssociationEvent"):
        event["parentID"] = draw(epcs)
        event["childEPCs"] = draw(st.lists(epcs, max_size=3))
    if kind == "TransformationEvent":
        event["inputEPCList"] = draw(st.lists(epcs, max_size=3))
        event["outputEPCList"] = draw(st.lists(epcs, max_size=3))
    for key in draw(st.sets(st.sampled_from(sorted(_OPTIONAL_FIELDS)), max_size=8)):
        event[key] = draw(_OPTIONAL_FIELDS[key])
    return event


def document(*events: dict[str, Any]) -> dict[str, Any]:
    """An EPCISDocument holding `events`."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


# Extensions in every place a user may put them, with keys and values the canonical form
# treats specially: undeclared or non-'/' namespaces, "#text", "comment", names ending in
# "List", bare CBV words, CURIEs, numbers as text, padded text, GS1 identifiers.
WILD_CONTEXT = [*CONTEXT, {"ex2": "urn:ex2:"}, {"ex3": "http://ex3.example/{x}/"}]
_WILD_KEYS = st.sampled_from(
    [
        *("example:a", "example:b", "ex2:c", "ex3:d", "plain", "type", "#text", "comment"),
        *("fooList", "example:barList", "childEPCs", "quantity", "time", "id"),
        *("example:reaction", "rdfs:comment", "undeclared:k"),
    ]
)
_WILD_WORDS = st.sampled_from(
    [
        *("x", "shipping", "po", "Temperature", "example:val", "ex2:v", "1.0", "+3", "0012"),
        *("true", "  padded  ", "", "nan", "2020-01-01T00:00:00Z", "ünï", "a{b}c"),
        "urn:epc:id:sgtin:0614141.107346.2017",
        "https://example.com/01/09520123456788/21/5?x=1",
        "urn:epcglobal:cbv:bizstep:receiving",
    ]
)
_wild = st.recursive(
    st.one_of(_WILD_WORDS, st.integers(-5, 5), st.booleans(), st.none(), numbers),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_WILD_KEYS, inner, max_size=3),
    max_leaves=8,
)
_extensions = st.dictionaries(
    st.sampled_from(["example:a", "ex2:c", "ex3:d", "undeclared:k", "example:reaction"]),
    _wild,
    max_size=2,
)


@st.composite
def wild_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event with odd extensions at event level, in readPoint, sensor fields and ilmd."""
    event = draw(events())
    event.update(draw(_extensions))
    if draw(st.booleans()):
        event["readPoint"] = {"id": "urn:epc:id:sgln:0614141.07346.0", **draw(_extensions)}
    if draw(st.booleans()):
        metadata = {"time": "2020-01-01T00:00:00Z", **draw(_extensions)}
        report = {"type": "Temperature", "value": 3, **draw(_extensions)}
        element = {"sensorMetadata": metadata, "sensorReport": [report], **draw(_extensions)}
        event["sensorElementList"] = [element]
    if draw(st.booleans()):
        event["ilmd"] = draw(_extensions)
    return event
