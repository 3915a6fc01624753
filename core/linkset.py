"""RFC 9264 linksets of a GS1 Digital Link, built from links per level (serial -> lot -> GTIN)
and chaintrace's own links, and the link a `?linkType=` request redirects to.

Default-link rule: a linkset holds exactly one gs1:defaultLink. The brand's gs1:defaultLink of
the most specific level that has one wins (serial over lot over GTIN); without one, the
platform's (chaintrace's item page); without either, the first link of the linkset. Every
other gs1:defaultLink is left out (its target keeps its own link type, if it has one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.digital_link import decode_value, encode_value, parse_link, parse_link_lot
from core.errors import DigitalLinkError, Gs1Error, LinkError
from core.gs1 import normalize_gtin, validate_serial
from core.link_rules import DEFAULT_LINK, link_type, link_type_uri

LINKSET_MEDIA_TYPE = "application/linkset+json"
JSON_TYPE = "application/json"
# ?linkType= values that ask for the whole linkset rather than one link.
LINKSET_REQUESTS = frozenset({"all", "linkset"})


@dataclass(frozen=True)
class Link:
    """One typed link (link type as `gs1:<term>`), as a linkset lists it."""

    link_type: str
    href: str
    title: str
    hreflang: tuple[str, ...] = ()
    media_type: str | None = None

    def target(self) -> dict[str, Any]:
        """The RFC 9264 target object."""
        obj: dict[str, Any] = {"href": self.href, "title": self.title}
        if self.hreflang:
            obj["hreflang"] = list(self.hreflang)
        if self.media_type:
            obj["type"] = self.media_type
        return obj


@dataclass(frozen=True)
class Linkset:
    """The links of one Digital Link, in linkset order, with exactly one default."""

    anchor: str
    links: tuple[Link, ...]
    default: Link
    by_type: Mapping[str, tuple[Link, ...]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The application/linkset+json document."""
        context: dict[str, Any] = {"anchor": self.anchor}
        for name, links in self.by_type.items():
            context[link_type_uri(name)] = [link.target() for link in links]
        return {"linkset": [context]}

    def first(self, requested: str) -> Link | None:
        """The link a `?linkType=<requested>` request goes to, or None (LinkError if the value
        is not a link type at all)."""
        return next(iter(self.by_type.get(link_type(requested), ())), None)


def anchor_uri(base_url: str, gtin: str, lot: str | None = None, serial: str | None = None) -> str:
    """The uncompressed Digital Link of a GTIN, a lot of it, or one item (lot before serial)."""
    path = f"{base_url.rstrip('/')}/01/{normalize_gtin(gtin)}"
    if lot is not None:
        path += f"/10/{encode_value(validate_serial(lot, 'lot'))}"
    if serial is not None:
        path += f"/21/{encode_value(validate_serial(serial))}"
    return path


def build_linkset(
    anchor: str, brand_levels: Sequence[Iterable[Link]], platform: Iterable[Link] = ()
) -> Linkset:
    """The linkset of `anchor` from the brand's links per level, most specific first, then the
    platform's links; LinkError if there is no link at all."""
    brand = [link for level in brand_levels for link in level]
    platform = list(platform)
    candidates = [link for link in (*brand, *platform) if link.link_type == DEFAULT_LINK]
    ordered: list[Link] = []
    seen: set[tuple[str, str, tuple[str, ...], str | None]] = set()
    for link in (*brand, *platform):
        key = (link.link_type, link.href, link.hreflang, link.media_type)
        if link.link_type == DEFAULT_LINK or key in seen:
            continue
        seen.add(key)
        ordered.append(link)
    if candidates:
        default = candidates[0]
    elif ordered:
        first = ordered[0]
        default = Link(DEFAULT_LINK, first.href, first.title, first.hreflang, first.media_type)
    else:
        raise LinkError(f"no links for {anchor}")
    links = (default, *ordered)
    by_type: dict[str, list[Link]] = {}
    for link in links:
        by_type.setdefault(link.link_type, []).append(link)
    return Linkset(anchor, links, default, {k: tuple(v) for k, v in by_type.items()})


def redirect_target(href: str, query: Iterable[tuple[str, str]]) -> str:
    """`href` with the request's other query parameters appended (linkType left out, and any
    parameter the href sets itself: the link's own value stands, never a second one)."""
    parts = urlsplit(href)
    own = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    passed = [(k, v) for k, v in query if k != "linkType" and k not in own]
    if not passed:
        return href
    query_text = "&".join(q for q in (parts.query, urlencode(passed)) if q)
    return urlunsplit(parts._replace(query=query_text))


def parse_key_path(path: str) -> tuple[str, str | None, str | None] | None:
    """(gtin14, lot, serial) of a Digital Link path for a GTIN, a lot or an item (one trailing
    slash tolerated), or None if the path is not one."""
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    try:
        gtin, serial = parse_link(path)
        return gtin, parse_link_lot(path), serial
    except DigitalLinkError:
        pass
    segments = path.split("/")[1:]
    if len(segments) not in (2, 4, 6) or segments[0] != "01":
        return None
    pairs = dict(zip(segments[2::2], segments[3::2], strict=True))
    if len(pairs) != len(segments) // 2 - 1 or not set(pairs) <= {"22", "10"}:
        return None
    if list(pairs) not in ([], ["22"], ["10"], ["22", "10"]):
        return None
    try:
        gtin = normalize_gtin(decode_value(segments[1], "AI (01)"))
        lot = pairs.get("10")
        if lot is not None:
            lot = validate_serial(decode_value(lot, "AI (10)"), "lot")
        if "22" in pairs:
            validate_serial(decode_value(pairs["22"], "AI (22)"), "variant")
    except Gs1Error:
        return None
    return gtin, lot, None


def platform_links(item_link: str) -> list[Link]:
    """chaintrace's own links of an item: its page (the default unless the brand chose one)
    and its public JSON, both gs1:traceability (history and proofs, for people or machines)."""
    page = f"{item_link}?format=html"
    title = "Item history and authenticity proofs (chaintrace)"
    return [
        Link(DEFAULT_LINK, page, title, ("en",), "text/html"),
        Link("gs1:traceability", page, title, ("en",), "text/html"),
        Link("gs1:traceability", f"{item_link}?format=json", f"{title}, JSON", (), JSON_TYPE),
    ]
