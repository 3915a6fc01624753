"""An EPCIS JSON event as the element tree of its XML form, which the canonical order walks.

JSON and XML differ in shape (a JSON list "epcList": [...] is an XML epcList with epc children,
quantityList holds quantityElement, childEPCs holds epc, ...). As the reference does, the JSON is
first turned into (name, text, children) nodes and then corrected to the XML shape, so that both
syntaxes hash alike. Names in a declared namespace become "{namespace}local".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Keys that never take part in the hash: XML text, comments (as the reference) and JSON-LD
# contexts, which are not data (the reference would hash an @context found on an event).
_IGNORED_KEYS = frozenset({"#text", "rdfs:comment", "comment", "@context"})
# Lists whose elements pair a value with an optional CBV type; keyed by the value's name.
GROUP_LISTS = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_EPC_RENAMES = frozenset({"inputEPC", "outputEPC"})
_QUANTITY_RENAMES = frozenset({"inputQuantity", "outputQuantity", "childQuantity"})


@dataclass(eq=False)
class Node:
    """An element: name, text (possibly empty) and child elements."""

    name: str
    text: str = ""
    children: list[Node | Group] = field(default_factory=list)


@dataclass(eq=False)
class Group:
    """One element of a bizTransaction, source or destination list: type, value, extensions."""

    value_name: str
    items: list[Node]


class _Builder:
    """Turns JSON into nodes, replacing declared namespace prefixes in keys and values."""

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self._namespaces = namespaces

    def _split(self, text: str) -> tuple[str, str] | None:
        prefix, colon, local = text.partition(":")
        if colon and prefix in self._namespaces:
            return self._namespaces[prefix], local
        return None

    def key(self, key: str) -> str:
        split = self._split(key)
        return key if split is None else "{" + split[0] + "}" + split[1]

    def scalar(self, value: Any) -> str:
        if isinstance(value, str):
            split = self._split(value)
            # Braces are dropped from the namespace (the reference stores it as "{ns}").
            return value if split is None else split[0].replace("{", "").replace("}", "") + split[1]
        # Python's str(): True -> "True", None -> "None", 1.50 -> "1.5", as the reference.
        return str(value)

    def children(self, obj: Mapping[str, Any]) -> list[Node | Group]:
        nodes: list[Node | Group] = []
        for key, value in obj.items():
            if key in _IGNORED_KEYS or key.startswith("@xmlns"):
                continue
            name = self.key(key)
            items = value if isinstance(value, list | tuple) else [value]
            nodes.extend(Node(name, *self.content(item)) for item in items)
        return nodes

    def content(self, value: Any) -> tuple[str, list[Node | Group]]:
        if isinstance(value, Mapping):
            text = value.get("#text", "")
            return (text if isinstance(text, str) else ""), self.children(value)
        if isinstance(value, list | tuple):
            return "", [self.anonymous(item) for item in value]
        return self.scalar(value), []

    def anonymous(self, value: Any) -> Node:
        # An element of a list inside a list has no key; the reference names it by its "type".
        kind = value.get("type", "") if isinstance(value, Mapping) else ""
        return Node(kind if isinstance(kind, str) else "", *self.content(value))


def _group(list_name: str, element: Node) -> Group:
    return Group(GROUP_LISTS[list_name], [c for c in element.children if isinstance(c, Node)])


def _correct(node: Node) -> Node:
    """Reshape JSON lists into XML list elements, recursively (as deep_structure_correction)."""
    kept: list[Node | Group] = []
    lists: dict[str, list[Node]] = {}
    for child in node.children:
        if isinstance(child, Node) and child.name.endswith("List"):
            lists.setdefault(child.name, []).append(
                Node(child.name[:-4], child.text, child.children)
            )
        else:
            kept.append(child)
    for list_name, elements in lists.items():
        if list_name in GROUP_LISTS:
            kept.append(Node(list_name, "", [_group(list_name, e) for e in elements]))
        else:
            kept.append(Node(list_name, "", list(elements)))
    child_epcs = [c for c in kept if isinstance(c, Node) and c.name == "childEPCs"]
    if child_epcs:
        kept = [c for c in kept if not (isinstance(c, Node) and c.name == "childEPCs")]
        kept.append(Node("childEPCs", "", [Node("epc", c.text) for c in child_epcs]))
    corrected: list[Node | Group] = [
        c if not isinstance(c, Node) or c.name in GROUP_LISTS else _correct(c) for c in kept
    ]
    name = node.name
    if name in _EPC_RENAMES:
        name = "epc"
    elif name in _QUANTITY_RENAMES or (name == "quantity" and node.children):
        name = "quantityElement"
    return Node(name, node.text, corrected)


def event_tree(event: Mapping[str, Any], namespaces: Mapping[str, str]) -> Node:
    """The corrected element tree of a validated event; the root is named by the event type."""
    builder = _Builder(namespaces)
    return _correct(Node(str(event["type"]), "", builder.children(event)))
