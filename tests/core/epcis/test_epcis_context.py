"""The built-in EPCIS context model and bare-string expansion, against the real context and pyld."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from core.epcis import cbv
from core.epcis.cbv import CONTEXT, Term
from core.epcis.document import namespaces_from_context
from core.epcis.expansion import vocabulary_iris
from tests.core.epcis.epcis_strategies import NAMESPACES, document, events
from tests.core.epcis.reference_oracle import (
    EXAMPLES,
    EXAMPLES_MISSING,
    example_files,
    reference_context,
    without_protected_redefinitions,
)

_Flat = dict[str, tuple[str, str | None, Any]]


def _expand(value: str, prefixes: Mapping[str, Any]) -> str:
    prefix, colon, rest = value.partition(":")
    return str(prefixes[prefix]) + rest if colon and prefix in prefixes else value


def _from_json(context: Any, prefixes: Mapping[str, Any]) -> _Flat:
    merged: dict[str, Any] = {}
    for part in context if isinstance(context, list) else [context]:
        merged.update(part)
    flat: _Flat = {}
    for term, definition in merged.items():
        if term.startswith("@"):
            continue
        if isinstance(definition, str):
            flat[term] = (_expand(definition, prefixes), None, {})
            continue
        coerce = definition.get("@type")
        scope = _from_json(definition.get("@context", {}), prefixes)
        # Scoped contexts repeat the "epcis" prefix; the model keeps it once, at top level.
        scope.pop("epcis", None)
        flat[term] = (
            _expand(definition["@id"], prefixes),
            coerce if coerce in ("@id", "@vocab") else None,
            scope,
        )
    return flat


def _from_model(scope: Mapping[str, Term]) -> _Flat:
    return {name: (t.iri, t.coerce, _from_model(t.scope)) for name, t in scope.items()}


def test_context_model_equals_the_epcis_context() -> None:
    context = reference_context()
    prefixes = {
        k: v for k, v in context.items() if isinstance(v, str) and v.endswith(("/", "#", ":"))
    }
    expected = _from_json(context, prefixes)
    assert len(expected) == len(CONTEXT) > 60
    assert _from_model(CONTEXT) == expected
    assert set(cbv.PREFIXES.items()) <= set(prefixes.items())


def _pyld_iris(doc: dict[str, Any]) -> set[str]:
    """What the reference computes: expanded string values with a web-vocabulary prefix."""
    from epcis_event_hash_generator import json_to_py
    from pyld import jsonld

    found: list[str] = []
    json_to_py._find_expanded_values(jsonld.expand(doc), found)
    return {v for v in found if v.startswith(cbv.WEB_VOCABULARY_PREFIXES)}


@pytest.fixture
def offline_pyld(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import epcis_event_hash_generator  # noqa: F401  (installs its bundled-context loader)
    from pyld import jsonld

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("no network in tests")

    monkeypatch.setattr(jsonld, "requests_document_loader", refuse)
    yield


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=events())
def test_vocabulary_iris_match_json_ld_expansion(event: dict[str, Any], offline_pyld: None) -> None:
    assert vocabulary_iris(event, NAMESPACES) == _pyld_iris(document(event))


def _example_params() -> list[Any]:
    files = example_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=EXAMPLES_MISSING))]
    return [pytest.param(p, id=p.relative_to(EXAMPLES).as_posix()) for p in files]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("path", _example_params())
def test_example_vocabulary_iris_match_json_ld_expansion(path: Path, offline_pyld: None) -> None:
    doc = without_protected_redefinitions(json.loads(path.read_text(encoding="utf-8")))
    body = doc["epcisBody"]
    events = body["queryResults"]["resultsBody"] if "queryResults" in body else body
    namespaces = namespaces_from_context(doc["@context"])
    for event in events["eventList"]:
        alone = {"@context": doc["@context"], "epcisBody": {"eventList": [event]}}
        assert vocabulary_iris(event, namespaces) == _pyld_iris(alone)
