"""The EPCIS 2.0 query parameters whose names are not fixed, and the check of every name a query
brings (EPCIS 2.0 section 8.2.7.1 via the REST binding).

Fixed names (eventType, EQ_bizStep, ...) are FastAPI query parameters of `event_query`
(api/routes/epcis_query.py). Names with a part of their own cannot be: `EQ_bizTransaction_<type>`
(a CBV bizTransaction type's short name) and the sensor bounds `<op>_<field>_<uom>` (op GT, GE,
LT, LE; field value, minValue, maxValue, meanValue, percValue; uom a UN/CEFACT Rec 20 code) are
read here from the raw query. A name the standard defines that this repository does not evaluate
(EQ_quantity, WD_readPoint, EQ_INNER_..., ...) is answered 501 rather than ignored, which would
return events the filter excludes; any other unknown name, and a name given twice, is the
standard's QueryParameterException (400).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation

from api.errors import EpcisQueryProblem, FieldError
from store.epcis_match import SENSOR_VALUE_FIELDS, SensorBound

BIZ_TRANSACTION = re.compile(r"^EQ_bizTransaction_([a-z][a-zA-Z0-9_]+)$")
SENSOR_BOUND = re.compile(rf"^(GT|GE|LT|LE)_({'|'.join(SENSOR_VALUE_FIELDS)})_([A-Z0-9]{{2,4}})$")
# The binding's fixed names for GET /events that this repository does not evaluate.
_UNSUPPORTED_FIXED = """
    EQ_persistentDisposition_set EQ_persistentDisposition_unset WD_readPoint WD_bizLocation
    EQ_transformationID MATCH_epcClass MATCH_inputEPCClass MATCH_outputEPCClass MATCH_anyEPCClass
    EQ_quantity GT_quantity GE_quantity LT_quantity LE_quantity EXISTS_errorDeclaration
    GE_errorDeclarationTime LT_errorDeclarationTime EQ_errorReason EQ_correctiveEventID orderBy
    orderDirection eventCountLimit maxEventCount GE_startTime LT_startTime GE_endTime LT_endTime
    EQ_dataProcessingMethod EQ_microorganism EQ_chemicalSubstance EQ_bizRules EQ_stringValue
    EQ_hexBinaryValue EQ_uriValue EQ_booleanValue
"""
UNSUPPORTED_FIXED = frozenset(_UNSUPPORTED_FIXED.split())
# The standard's families of names with a part of their own (the EPCIS 2.0 query schema's
# patternProperties) that this repository does not evaluate.
_FIELD = r"[a-z][a-zA-Z0-9]*:\w+"
_PLACES = "ILMD|SENSORELEMENT|SENSORMETADATA|SENSORREPORT|ERROR_DECLARATION|readPoint|bizLocation"
UNSUPPORTED_FAMILIES = (
    re.compile(r"^(EQ|GT|GE|LT|LE)_(quantity|value|sDev)_[A-Z0-9]{2,4}$"),
    re.compile(r"^EQ_(source|destination)_[a-z][a-zA-Z0-9_]+$"),
    re.compile(rf"^(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?(({_PLACES})_)?{_FIELD}$"),
    re.compile(r"^EQ_ATTR_\w+_\w+$"),
    re.compile(rf"^HASATTR_{_FIELD}$"),
)
_PARAMETER_EXCEPTION = "epcisException:QueryParameterException"
_IMPLEMENTATION_EXCEPTION = "epcisException:ImplementationException"
_BAD = "Invalid query parameter"
_NUMBER = re.compile(r"^-?[0-9]{1,30}([.][0-9]{1,30})?([eE][+-]?[0-9]{1,3})?$")
_MAX_VALUES = 100


def is_dynamic(name: str) -> bool:
    """Whether `name` is one of the open-named parameters this repository evaluates."""
    return bool(BIZ_TRANSACTION.match(name) or SENSOR_BOUND.match(name))


def _unsupported(name: str) -> bool:
    return name in UNSUPPORTED_FIXED or any(f.match(name) for f in UNSUPPORTED_FAMILIES)


def check_names(names: list[str], fixed: Collection[str]) -> None:
    """Every name is a fixed parameter of the route or one `is_dynamic` accepts, and none comes
    twice: else 501 for a standard parameter not evaluated here, 400 for anything else."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise EpcisQueryProblem(
                400, _PARAMETER_EXCEPTION, _BAD, f"query parameter {name!r} is given more than once"
            )
        seen.add(name)
        if name in fixed or is_dynamic(name):
            continue
        if _unsupported(name):
            raise EpcisQueryProblem(
                501,
                _IMPLEMENTATION_EXCEPTION,
                "Functionality not supported by server",
                f"query parameter {name!r} is EPCIS 2.0's but this repository does not "
                "evaluate it (see README: EPCIS 2.0 interface: query)",
            )
        raise EpcisQueryProblem(
            400, _PARAMETER_EXCEPTION, _BAD, f"{name!r} is not a query parameter of this resource"
        )


def _pipe(name: str, value: str) -> tuple[str, ...]:
    values = tuple(value.split("|"))
    if len(values) > _MAX_VALUES or not all(values) or "\x00" in value:
        raise FieldError(["query", name], "pipe-delimited non-empty values (at most 100)")
    return values


def _decimal(name: str, value: str) -> Decimal:
    if not _NUMBER.match(value):
        raise FieldError(["query", name], "a decimal number, e.g. 8 or -2.5")
    try:
        return Decimal(value)
    except InvalidOperation:  # the pattern admits only what Decimal reads; kept for safety
        raise FieldError(["query", name], "a decimal number, e.g. 8 or -2.5") from None


def biz_transactions(dynamic: Mapping[str, str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The EQ_bizTransaction_<type> filters: (type, values), in name order."""
    out = []
    for name in sorted(dynamic):
        found = BIZ_TRANSACTION.match(name)
        if found:
            out.append((found.group(1), _pipe(name, dynamic[name])))
    return tuple(out)


def sensor_bounds(dynamic: Mapping[str, str]) -> tuple[SensorBound, ...]:
    """The `<op>_<field>_<uom>` bounds, in name order."""
    out = []
    for name in sorted(dynamic):
        found = SENSOR_BOUND.match(name)
        if found:
            op, field_name, uom = found.groups()
            out.append(SensorBound(op, field_name, uom, _decimal(name, dynamic[name])))
    return tuple(out)


def check_dynamic(dynamic: Mapping[str, str]) -> None:
    """Every key of `dynamic` is an open-named parameter this repository evaluates (a caller
    that builds the mapping itself, e.g. a stored query, goes through the same check)."""
    check_names(list(dynamic), ())
