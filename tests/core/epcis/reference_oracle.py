"""The reference implementation (epcis-event-hash-generator 1.9.3) as an in-process oracle,
and where the GS1 EPCIS examples live."""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.epcis.extension import EPCIS_CONTEXT

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "epcis-examples"
EXAMPLES_MISSING = f"EPCIS examples not found at {EXAMPLES} (a clone without ../shared)"
# The bundled copy of https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld.
_REFERENCE_CONTEXT = "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld"

Oracle = Callable[..., list[str | None]]


def example_files() -> list[Path]:
    """Every JSON / JSON-LD example, schemas excluded; empty when the folder is absent."""
    if not EXAMPLES.is_dir():
        return []
    files = [*EXAMPLES.rglob("*.json"), *EXAMPLES.rglob("*.jsonld")]
    return sorted(p for p in files if p.relative_to(EXAMPLES).parts[0] != "schema")


def reference_context() -> dict[str, Any]:
    """The EPCIS 2.0 JSON-LD context as shipped inside the reference package."""
    files = importlib.resources.files("epcis_event_hash_generator")
    context: dict[str, Any] = json.loads((files / _REFERENCE_CONTEXT).read_text())["@context"]
    return context


def without_protected_redefinitions(doc: dict[str, Any]) -> dict[str, Any]:
    """The document minus @context entries that redefine a protected EPCIS term (pyld refuses)."""
    protected = reference_context()
    context = doc.get("@context")
    if not isinstance(context, list):
        return doc
    kept = [
        {k: v for k, v in entry.items() if k not in protected or protected[k] == v}
        if isinstance(entry, dict)
        else entry
        for entry in context
    ]
    return {**doc, "@context": kept}


_PAIR_LISTS = ("bizTransactionList", "sourceList", "destinationList")


def _corrected(py_event: Any) -> Any:
    """deep_structure_correction, except that a list element holding only its value (no type,
    which EPCIS allows) becomes that value's node instead of an IndexError on the missing pair."""
    from epcis_event_hash_generator import json_xml_model_mismatch_correction as correction

    name, text, children = py_event
    groups: dict[str, list[Any]] = {}
    for child in [c for c in children if c[0] in _PAIR_LISTS]:
        children.remove(child)
        element = child[2]
        groups.setdefault(child[0], []).append(
            (element[0], element[1]) if len(element) == 2 else element[0]
        )
    corrected = correction.deep_structure_correction((name, text, children))
    corrected[2].extend((list_name, "", items) for list_name, items in groups.items())
    return corrected


def reference_prehashes(doc: dict[str, Any], workaround: bool = False) -> list[str | None]:
    from epcis_event_hash_generator import hash_generator, json_to_py

    doc = copy.deepcopy(doc)
    # The reference keeps namespace prefixes in a module global across documents.
    json_to_py._namespaces.clear()
    if not workaround:
        events = json_to_py.event_list_from_epcis_document_json(doc)[2]
    else:
        # Its own steps, minus four failures: pyld refusing a redefined protected prefix,
        # a TypeError on @context term objects (only string prefixes are read here),
        # a KeyError on query documents (their events are read from queryResults) and an
        # IndexError on a bizTransaction without a type (see _corrected).
        processed = json_to_py._bare_string_pre_preocessing(without_protected_redefinitions(doc))
        context = doc.get("@context")
        for entry in context if isinstance(context, list) else []:
            for prefix, namespace in entry.items() if isinstance(entry, dict) else []:
                if isinstance(namespace, str):
                    json_to_py._namespaces[prefix] = "{" + namespace + "}"
        body = processed["epcisBody"]
        if "queryResults" in body:
            event_list = body["queryResults"]["resultsBody"]["eventList"]
        else:
            event_list = body["eventList"]
        events = [_corrected(json_to_py._json_to_py(e)) for e in event_list]
    prehashes: list[str | None] = []
    for event in events:
        # One event per call: the reference silently drops events it fails on.
        result = hash_generator.derive_prehashes_from_events(("EventList", "", [event]))
        prehashes.append(result[0] if result else None)
    return prehashes


def reference_event_hash(event: dict[str, Any]) -> bytes | None:
    """The unpatched reference's CBV 2.0 hash of one event as the platform stores it, published
    the EPCIS 2.0 way: in a document whose @context is the event's own (the reference hashes an
    @context left on an event, a divergence of its own: test_epcis_divergences). None: it
    dropped the event; its exceptions propagate."""
    body = {k: v for k, v in event.items() if k != "@context"}
    doc = {
        "@context": event.get("@context", [EPCIS_CONTEXT]),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00.000Z",
        "epcisBody": {"eventList": [body]},
    }
    (prehash,) = reference_prehashes(doc)
    return None if prehash is None else hashlib.sha256(prehash.encode()).digest()
