"""The CBV 2.0 event hash: pre-hash string, SHA-256 digest and its ni: URI."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from core.epcis.canonical import prehash
from core.epcis.document import namespaces_from_context
from core.epcis.errors import EpcisError
from core.epcis.expansion import expand_bare_strings
from core.epcis.tree import event_tree
from core.epcis.validation import check_event, check_namespaces


def prehash_string(event: Mapping[str, Any], context: Mapping[str, str] | None = None) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON event.

    `context` holds the document's namespace prefixes (prefix -> IRI); an @context on the event
    itself adds to them and is not hashed.
    """
    checked = check_event(event)
    namespaces = {**check_namespaces(context), **namespaces_from_context(checked.get("@context"))}
    expanded = expand_bare_strings(checked, namespaces)
    result = prehash(event_tree(expanded, namespaces))
    try:
        result.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EpcisError(f"event holds text that is not valid Unicode: {exc.reason}") from exc
    return result


def event_hash(event: Mapping[str, Any], context: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte SHA-256 of the event's pre-hash string (UTF-8)."""
    return hashlib.sha256(prehash_string(event, context).encode("utf-8")).digest()


def event_hash_ni(event: Mapping[str, Any], context: Mapping[str, str] | None = None) -> str:
    """The event hash as the CBV 2.0 event ID: ni:///sha-256;<hex>?ver=CBV2.0."""
    return event_id(event_hash(event, context))


def event_id(digest: bytes) -> str:
    """An event hash as the CBV 2.0 event ID (ni:///sha-256;<hex>?ver=CBV2.0)."""
    if len(digest) != 32:
        raise ValueError("an event hash is 32 bytes")
    return "ni:///sha-256;" + digest.hex() + "?ver=CBV2.0"


def is_error_declaration(event: Mapping[str, Any]) -> bool:
    """Whether the event declares an error in an earlier event (Merkle leaf kind 1)."""
    if not isinstance(event, Mapping):
        raise EpcisError(f"an EPCIS event must be a JSON object, got {type(event).__name__}")
    if "errorDeclaration" not in event:
        return False
    if not isinstance(event["errorDeclaration"], Mapping):
        raise EpcisError("event.errorDeclaration: must be an object")
    return True
