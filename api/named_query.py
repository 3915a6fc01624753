"""A named query's parameters (the binding's `query` object) turned into the EventQuery that
GET /epcis/events builds from the same parameters, by the same code.

The parameters are read from `event_query`'s own signature (each parameter's alias, type and
constraints): a parameter added there is accepted here with the same validation, and none is
listed twice. Values are strings, or arrays of strings (the query schema's form of a list),
which become the pipe-delimited value GET /epcis/events takes; numbers are accepted where the
parameter's own type is a number. The OpenAPI schema of the `query` object is made from the same
signature (query_schema).
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from api.epcis_parameters import BIZ_TRANSACTION, SENSOR_BOUND, is_dynamic
from api.errors import FieldError
from api.routes.epcis_query import EVENT_TYPE_PATTERN, PIPE_PATTERN, event_query
from store.epcis_query import EventQuery

MAX_VALUES = 100  # values in one parameter's array
_NOT_CONSTRAINTS = frozenset({"anyOf", "default", "title", "description"})


@cache
def _model() -> type[BaseModel]:
    """A model of event_query's parameters (by their aliases), rejecting any other name."""
    hints = typing.get_type_hints(event_query, include_extras=True)
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(event_query).parameters.items():
        if name == "dynamic":  # the open-named parameters, read by is_dynamic (event_query_of)
            continue
        if parameter.default is inspect.Parameter.empty:
            raise TypeError(f"event_query's parameter {name} has no default: not a query filter")
        fields[name] = (hints[name], parameter.default)
    return create_model("NamedQueryParameters", __config__=ConfigDict(extra="forbid"), **fields)


@cache
def _value_schemas() -> dict[str, dict[str, Any]]:
    """Each parameter's JSON Schema as GET /epcis/events documents it (None left out)."""
    schema = _model().model_json_schema(by_alias=True)
    out: dict[str, dict[str, Any]] = {}
    for alias, prop in schema["properties"].items():
        branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
        value = dict(branches[0]) if len(branches) == 1 else {"anyOf": branches}
        # What applies to every branch (a format, say) sits beside anyOf.
        value.update({k: v for k, v in prop.items() if k not in _NOT_CONSTRAINTS})
        out[alias] = value
    return out


def query_schema(schema: dict[str, Any]) -> None:
    """The OpenAPI schema of a named query's `query` object (json_schema_extra of its field):
    each parameter as GET /epcis/events takes it, or an array of such values."""
    properties: dict[str, Any] = {}
    for alias, value in _value_schemas().items():
        piped = value.get("pattern") in (PIPE_PATTERN, EVENT_TYPE_PATTERN)
        single = value.get("type") == "string" and piped
        item = {"allOf": [value, {"pattern": "^[^|]*$"}]} if single else value
        array = {"type": "array", "items": item, "minItems": 1}
        array["maxItems"] = MAX_VALUES if single else 1
        properties[alias] = {"anyOf": [value, array]}
    any_value = {"anyOf": [{"type": "string"}, {"type": "number"}]}
    open_named = {"anyOf": [any_value, {"type": "array", "items": any_value, "minItems": 1}]}
    schema.update(
        properties=properties,
        patternProperties={BIZ_TRANSACTION.pattern: open_named, SENSOR_BOUND.pattern: open_named},
        additionalProperties=False,
    )


def parameter_names() -> list[str]:
    """The query parameters a named query may hold (their names in the binding)."""
    return sorted(_value_schemas())


def _text(loc: list[str | int], value: Any, numeric: bool) -> str:
    if isinstance(value, str):
        return value
    if numeric and isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    raise FieldError(loc, "must be a number" if numeric else "must be a string")


def _flat(loc: list[str | int], value: Any) -> str:
    """A parameter's value as GET /epcis/events would receive it."""
    name = str(loc[-1])
    numeric = bool(SENSOR_BOUND.match(name)) or _value_schemas().get(name, {}).get("type") in (
        "number",
        "integer",
    )
    if not isinstance(value, list):
        return _text(loc, value, numeric)
    if not value or len(value) > MAX_VALUES:
        raise FieldError(loc, f"an array of 1-{MAX_VALUES} values")
    parts = [_text([*loc, i], v, numeric) for i, v in enumerate(value)]
    for i, part in enumerate(parts):
        if "|" in part:
            raise FieldError([*loc, i], "a value in an array holds no '|'")
    return "|".join(parts)


def event_query_of(params: Any, loc: tuple[str, ...] = ("body", "query")) -> EventQuery:
    """The EventQuery of a named query's parameters; 422 (FieldError) naming the parameter."""
    if not isinstance(params, dict):
        raise FieldError(list(loc), "must be an object of query parameters")
    flat = {key: _flat([*loc, key], value) for key, value in params.items()}
    dynamic = {key: value for key, value in flat.items() if is_dynamic(key)}
    try:
        validated = _model().model_validate(
            {key: value for key, value in flat.items() if key not in dynamic}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = [*loc, *(str(part) for part in first["loc"])]
        msg = "not a query parameter" if first["type"] == "extra_forbidden" else first["msg"]
        raise FieldError(where, msg) from None
    call: Callable[..., EventQuery] = event_query
    try:
        return call(**dict(validated), dynamic=dynamic)
    except FieldError as exc:  # event_query names it as ["query", alias]
        raise FieldError([*loc, *exc.loc[1:]], exc.msg) from None
