"""Bare CBV names ("shipping", "po", "Temperature") to web-vocabulary URIs, without JSON-LD tools.

The reference JSON-LD-expands the document with the EPCIS context, keeps the expanded string
values that start with https://ref.gs1.org/cbv or https://gs1.org/voc, and replaces every string
value V of the input by the one such IRI ending in "-V" or "/V" (if exactly one does). This module
computes the same IRIs from the context model in core.epcis.cbv, for one event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.epcis.cbv import CONTEXT, WEB_VOCABULARY_PREFIXES, Term

_Scopes = tuple[Mapping[str, Term], ...]
# Characters after which a term's IRI may take a suffix (JSON-LD 1.1 prefix rule).
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")


class _Expander:
    """JSON-LD term and IRI expansion over the EPCIS context plus the document's prefixes."""

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self._namespaces = namespaces
        self.found: set[str] = set()

    def _term(self, name: str, scopes: _Scopes) -> Term | None:
        # Innermost property-scoped context first; the document's own prefixes cannot
        # override the protected EPCIS terms, so they come last.
        for scope in reversed(scopes):
            if name in scope:
                return scope[name]
        namespace = self._namespaces.get(name)
        return Term(namespace) if namespace is not None else None

    def _iri(self, value: str, scopes: _Scopes, vocab: bool) -> str:
        if vocab:
            term = self._term(value, scopes)
            if term is not None:
                return term.iri
        prefix, colon, suffix = value.partition(":")
        if colon and prefix != "_" and not suffix.startswith("//"):
            term = self._term(prefix, scopes)
            if term is not None and term.iri.endswith(_GEN_DELIMS) and term.iri[:1] != "@":
                return term.iri + suffix
        return value

    def _add(self, iri: str) -> None:
        if iri.startswith(WEB_VOCABULARY_PREFIXES):
            self.found.add(iri)

    def node(self, node: Mapping[str, Any], scopes: _Scopes) -> None:
        """Collect from one JSON object, as JSON-LD expansion would walk it."""
        for key, value in node.items():
            if key == "@context":
                continue
            term = self._term(key, scopes)
            iri = term.iri if term is not None else (key if ":" in key else "")
            if iri == "@id":
                self._strings(value, lambda v: self._iri(v, scopes, vocab=False))
            elif iri == "@type":
                self._strings(value, lambda v: self._iri(v, scopes, vocab=True))
            elif iri == "@value":
                self._strings(value, lambda v: v)
            elif iri and not iri.startswith("@"):
                inner = (*scopes, term.scope) if term is not None and term.scope else scopes
                self.value(value, inner, term.coerce if term is not None else None)

    def _strings(self, value: Any, expand: Callable[[str], str]) -> None:
        items = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        for item in items:
            if isinstance(item, str):
                self._add(expand(item))

    def value(self, value: Any, scopes: _Scopes, coerce: str | None) -> None:
        """Collect from the value of a property whose values are coerced to `coerce`."""
        if isinstance(value, str):
            if coerce is None:
                self._add(value)
            else:
                self._add(self._iri(value, scopes, vocab=coerce == "@vocab"))
        elif isinstance(value, Mapping):
            self.node(value, scopes)
        elif isinstance(value, Sequence):
            for item in value:
                self.value(item, scopes, coerce)


def vocabulary_iris(event: Mapping[str, Any], namespaces: Mapping[str, str]) -> frozenset[str]:
    """The CBV / GS1 web-vocabulary IRIs a JSON-LD expansion of `event` contains."""
    expander = _Expander(namespaces)
    expander.node(event, (CONTEXT,))
    return frozenset(expander.found)


def _suffix_index(iris: frozenset[str]) -> dict[str, str | None]:
    """Map each suffix after a '-' or '/' to its IRI, or to None when several IRIs share it."""
    index: dict[str, str | None] = {}
    for iri in sorted(iris):
        for position, char in enumerate(iri):
            if char in "-/":
                suffix = iri[position + 1 :]
                index[suffix] = iri if index.get(suffix, iri) == iri else None
    return index


def expand_bare_strings(event: Mapping[str, Any], namespaces: Mapping[str, str]) -> Any:
    """A copy of `event` with each bare vocabulary string replaced by its unique expansion."""
    index = _suffix_index(vocabulary_iris(event, namespaces))

    def replace(value: Any) -> Any:
        if isinstance(value, str):
            return index.get(value) or value
        if isinstance(value, Mapping):
            return {key: replace(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [replace(item) for item in value]
        return value

    return replace(event)
