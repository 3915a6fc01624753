"""The canonical property order and the pre-hash serialisation of an event tree (CBV 2.0 rules).

Fields in PROP_ORDER come first, in that order, as "name=value" with the values of repeated
fields sorted; nested fields follow their parent's name. Everything else (ilmd, user extensions,
and, as in the reference, the bizTransaction/source/destination lists, whose order entries never
match there) follows as sorted "name=value" strings. Values are canonicalised by core.epcis.values.
"""

from __future__ import annotations

from core.epcis.tree import Group, Node
from core.epcis.values import canonical_value, timestamp

# (name, order of its children or None), recursively.
Order = tuple[tuple[str, "Order | None"], ...]

_QUANTITY: Order = (("epcClass", None), ("quantity", None), ("uom", None))
_EPCS: Order = (("epc", None),)
_SENSOR_METADATA: Order = tuple(
    (name, None)
    for name in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
)
_SENSOR_REPORT: Order = tuple(
    (name, None)
    for name in (
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    )
)

PROP_ORDER: Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", (("quantityElement", _QUANTITY),)),
    ("childQuantityList", (("quantityElement", _QUANTITY),)),
    ("inputQuantityList", (("quantityElement", _QUANTITY),)),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", (("quantityElement", _QUANTITY),)),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    (
        "sensorElementList",
        (
            (
                "sensorElement",
                (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
            ),
        ),
    ),
)

# Top-level fields that are not part of the event's identity.
_EXCLUDED = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})


def _is_time(name: str) -> bool:
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


def _extensions(children: list[Node | Group]) -> list[Node | Group]:
    """Remove and return the namespaced user extensions of a standard field (rule 21).

    As in the reference: not at event level (recognised by an eventTime/action child), only for
    namespaces ending in '/', and only where there are at least two children.
    """
    nodes = [c for c in children if isinstance(c, Node)]
    if len(children) <= 1 or any("eventTime" in c.name or "action" in c.name for c in nodes):
        return []
    found: list[Node | Group] = [c for c in nodes if "{" in c.name and "/}" in c.name]
    taken = {id(c) for c in found}
    children[:] = [c for c in children if id(c) not in taken]
    return found


def _element(node: Node, order: Order | None) -> str:
    """'name=value' plus the ordered children; consumes the children it serialises."""
    nested = ordered(node.children, order) if order else ""
    text = node.text.strip()
    if text:
        text = "=" + (timestamp(text) if _is_time(node.name) else canonical_value(text))
    return node.name + text + nested if text or nested else ""


def ordered(children: list[Node | Group], order: Order) -> str:
    """Serialise `children` in `order`, removing every child it fully consumes from the list."""
    extensions = _extensions(children)
    parts: list[str] = []
    consumed: set[int] = set()
    by_name: dict[str, list[Node]] = {}
    for node in children:
        if isinstance(node, Node):
            by_name.setdefault(node.name, []).append(node)
    for name, child_order in order:
        values: list[str] = []
        for child in by_name.get(name, []):
            serialised = _element(child, child_order)
            if serialised:
                values.append(serialised)
            if not child.children:
                consumed.add(id(child))
        parts.extend(sorted(values))
    # One pass, not list.remove per child: an epcList of n EPCs must not cost n squared.
    children[:] = [c for c in children if id(c) not in consumed]
    return "".join(parts) + (generic(extensions) if extensions else "")


def _group(group: Group) -> str:
    """Type first, then the value, then any extension members (rule 13), in that order."""
    first = [i for i in group.items if i.name == "type"]
    second = [i for i in group.items if i.name == group.value_name]
    rest = [i for i in group.items if i.name not in ("type", group.value_name)]
    return "".join(
        "".join(sorted(generic([item]) for item in part)) for part in (first, second, rest)
    )


def generic(children: list[Node | Group]) -> str:
    """Serialise fields outside the canonical order: 'name=value' + children, sorted."""
    values: list[str] = []
    for child in children:
        if isinstance(child, Group):
            values.append(_group(child))
            continue
        text = child.text.strip()
        values.append(
            child.name + ("=" + canonical_value(text) if text else "") + generic(child.children)
        )
    # The reference leaves a list unsorted when it holds a bizTransaction/source/destination
    # field, so those inherit the JSON key order; only Group keeps an order, a canonical one.
    return "".join(sorted(values))


def prehash(root: Node) -> str:
    """The pre-hash string of a corrected event tree."""
    head = "eventType=" + root.name + ordered(root.children, PROP_ORDER)
    rest = [c for c in root.children if not (isinstance(c, Node) and c.name in _EXCLUDED)]
    return head + (generic(rest) if rest else "")
