"""chaintrace's EPCIS extension: the `ct:` namespace and the JSON-LD context events carry.

One definition for every package that writes events (the API and the gateway may not import
each other). The namespace is a name, never fetched. The canonical hash does not hash an event's
@context, but it expands `ct:` fields with it: changing CT_NAMESPACE changes every hash of an
event with a `ct:` field.
"""

from __future__ import annotations

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CT_NAMESPACE = "https://chaintrace.dev/ns/epcis#"


def event_context() -> list[str | dict[str, str]]:
    """A fresh @context for an event: the EPCIS 2.0 context and the `ct:` prefix."""
    return [EPCIS_CONTEXT, {"ct": CT_NAMESPACE}]
