"""EPCIS 2.0 events and their GS1 CBV 2.0 canonical event hash (consensus-critical, no I/O).

Implemented from the CBV 2.0 "event hash ID" rules and tested against the reference package
epcis-event-hash-generator 1.9.3 (pre-hash strings and hashes, event by event). Changing the
output for any event breaks every proof already anchored: add a new version instead.

Deliberate differences, all where the reference depends on the serialisation or fails:
bizTransaction/source/destination pairs are always type-then-value (the reference follows JSON
key order; it fails on a pair without type), bare CBV names are expanded per event (the
reference looks across the whole document), an @context on an event is not hashed, extension
objects are sorted even when they hold a "source" key, timestamps without a UTC offset are
refused and a rounding carry (.9995) goes into the next second, "Infinity" stays text.
"""

from core.epcis.document import events_from_document, namespaces_from_context
from core.epcis.errors import EpcisError
from core.epcis.hashing import event_hash, event_hash_ni, is_error_declaration, prehash_string

__all__ = [
    "EpcisError",
    "event_hash",
    "event_hash_ni",
    "events_from_document",
    "is_error_declaration",
    "namespaces_from_context",
    "prehash_string",
]
