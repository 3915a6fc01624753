"""GS1 Digital Link URIs for serialised items: {base}/01/{gtin14}/21/{serial}.

Follows the GS1 Digital Link URI syntax (1.x): AI values in the path are percent-encoded
except for the RFC 3986 unreserved characters, so '/' is %2F, '%' is %25, '+' is %2B,
'#' is %23 and '?' is %3F. Parsing accepts GTIN-8/12/13/14 (returned as 14 digits), an
optional path before /01/, the optional qualifiers /22/ (variant) and /10/ (lot) before /21/,
and ignores the query string (data attributes) and fragment. '+' is never read as a space.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from core.errors import DigitalLinkError, Gs1Error
from core.gs1 import normalize_gtin, validate_serial

MAX_LINK_LEN = 2048
# RFC 3986 pchar minus pct-encoded: what a path segment may hold unescaped.
_SEGMENT = re.compile(r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9\-._~!$&'()*+,;=:@])*")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Key qualifiers of a GTIN in the order the standard fixes: variant, lot, serial.
_QUALIFIERS = ("22", "10", "21")


def encode_value(value: str) -> str:
    """Percent-encode an AI value for a Digital Link path segment."""
    return quote(value, safe="")


def decode_value(segment: str, what: str) -> str:
    """Strictly percent-decode a path segment ('+' stays '+', a bad escape is an error)."""
    if not _SEGMENT.fullmatch(segment):
        raise DigitalLinkError(f"{what} {segment!r} has characters a URI path does not allow")
    try:
        raw = bytes(int(h, 16) for h in _ESCAPE.findall(segment))
        raw.decode("ascii")
    except UnicodeDecodeError:
        raise DigitalLinkError(f"{what} {segment!r} decodes to non-ASCII bytes") from None
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), segment)


def _check_base(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise DigitalLinkError(f"base_url must be a string, got {type(base_url).__name__}")
    base = base_url.rstrip("/")
    if base == "":
        return base
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DigitalLinkError(f"base_url must be an http(s) URL or empty, got {base_url!r}")
    if parts.query or parts.fragment or "?" in base or "#" in base:
        raise DigitalLinkError(f"base_url must not have a query or fragment: {base_url!r}")
    return base


def build_link(base_url: str, gtin: str, serial: str) -> str:
    """The Digital Link of one item; an empty base_url gives the path alone."""
    base = _check_base(base_url)
    try:
        gtin14 = normalize_gtin(gtin)
        serial = validate_serial(serial)
    except Gs1Error as exc:
        raise DigitalLinkError(str(exc)) from None
    return f"{base}/01/{gtin14}/21/{encode_value(serial)}"


def _match_gtin_path(segments: list[str]) -> dict[str, str] | None:
    """Parse ['01', gtin, ('22', v), ('10', lot), '21', serial] exactly, or None."""
    if len(segments) < 4 or segments[0] != "01" or len(segments) % 2:
        return None
    pairs = list(zip(segments[0::2], segments[1::2], strict=True))
    keys = [k for k, _ in pairs[1:]]
    if not keys or keys[-1] != "21" or any(k not in _QUALIFIERS for k in keys):
        return None
    if [_QUALIFIERS.index(k) for k in keys] != sorted({_QUALIFIERS.index(k) for k in keys}):
        raise DigitalLinkError(f"qualifiers must appear once each in the order 22, 10, 21: {keys}")
    values = {k: decode_value(v, f"AI ({k})") for k, v in pairs}
    try:
        gtin = normalize_gtin(values["01"])
        for key in keys:
            validate_serial(values[key], f"AI ({key})")
    except Gs1Error as exc:
        raise DigitalLinkError(str(exc)) from None
    return {**values, "01": gtin}


def parse_link(url_or_path: str) -> tuple[str, str]:
    """(gtin14, serial) of a Digital Link URL or path; DigitalLinkError if it is not one."""
    values = _link_values(url_or_path)
    return values["01"], values["21"]


def parse_link_lot(url_or_path: str) -> str | None:
    """The lot (AI 10) a Digital Link names before its serial, or None; DigitalLinkError if it
    is not a link."""
    return _link_values(url_or_path).get("10")


def _link_values(url_or_path: str) -> dict[str, str]:
    """The AI values of a Digital Link's GTIN path (01 as GTIN-14, 21, and 10 / 22 if given)."""
    if not isinstance(url_or_path, str):
        raise DigitalLinkError(f"link must be a string, got {type(url_or_path).__name__}")
    if len(url_or_path) > MAX_LINK_LEN:
        raise DigitalLinkError(f"link longer than {MAX_LINK_LEN} characters")
    # urlsplit silently drops tabs and newlines; a link with any whitespace is not a link.
    if any(c.isspace() or not c.isprintable() for c in url_or_path):
        raise DigitalLinkError(f"link contains whitespace or control characters: {url_or_path!r}")
    if url_or_path.startswith("/"):
        path = url_or_path.split("#", 1)[0].split("?", 1)[0]
    else:
        try:
            parts = urlsplit(url_or_path)
        except ValueError as exc:
            raise DigitalLinkError(f"not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DigitalLinkError(f"expected an http(s) URL or a path: {url_or_path!r}")
        path = parts.path
    segments = path.split("/")[1:]
    first_error: DigitalLinkError | None = None
    # The primary key may follow a custom path of the resolver's own: try each '01' in turn.
    for i, segment in enumerate(segments):
        if segment != "01":
            continue
        try:
            found = _match_gtin_path(segments[i:])
        except DigitalLinkError as exc:
            first_error = first_error or exc
            continue
        if found is not None:
            return found
    if first_error is not None:
        raise first_error
    raise DigitalLinkError(f"no /01/<gtin>/21/<serial> path in {url_or_path!r}")


class GtinKey(NamedTuple):
    """What a resolver request names: a GTIN-14, and the qualifiers given (variant, lot,
    serial), each None when absent."""

    gtin: str
    variant: str | None = None
    lot: str | None = None
    serial: str | None = None


_QUALIFIER_NAMES = {"22": "consumer product variant", "10": "lot", "21": "serial"}


def parse_gtin_key(path: str) -> GtinKey:
    """The key a resolver path names: /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}], one
    trailing slash tolerated, a raw (still percent-encoded) path without query or fragment.

    DigitalLinkError, with the reason, for anything else: a bad check digit, an AI that is not a
    GTIN's key qualifier (data attributes belong in the query string), qualifiers out of order or
    repeated, a value outside GS1's CS82 character set or longer than 20 characters.
    """
    if not isinstance(path, str):
        raise DigitalLinkError(f"path must be a string, got {type(path).__name__}")
    if len(path) > MAX_LINK_LEN:
        raise DigitalLinkError(f"link longer than {MAX_LINK_LEN} characters")
    if path.endswith("/") and path != "/":
        path = path[:-1]
    segments = path.split("/")[1:]
    if not segments or segments[0] != "01":
        raise DigitalLinkError("a GTIN Digital Link path starts with /01/")
    if len(segments) == 1 or segments[1] == "":
        raise DigitalLinkError("no GTIN after /01/")
    if len(segments) % 2:
        raise DigitalLinkError(f"every AI needs a value: {len(segments)} path segments after /")
    pairs = list(zip(segments[0::2], segments[1::2], strict=True))
    values: dict[str, str] = {}
    for ai, raw in pairs[1:]:
        if ai not in _QUALIFIERS:
            raise DigitalLinkError(
                f"AI ({ai}) is not a key qualifier of a GTIN (22, 10, 21 in that order); data "
                "attributes go in the query string"
            )
        if ai in values:
            raise DigitalLinkError(f"AI ({ai}) appears twice")
        if any(_QUALIFIERS.index(k) > _QUALIFIERS.index(ai) for k in values):
            raise DigitalLinkError("key qualifiers must appear in the order 22, 10, 21")
        values[ai] = decode_value(raw, f"AI ({ai})")
    try:
        gtin = normalize_gtin(decode_value(pairs[0][1], "AI (01)"))
        for ai, value in values.items():
            validate_serial(value, f"{_QUALIFIER_NAMES[ai]} (AI {ai})")
    except Gs1Error as exc:
        raise DigitalLinkError(str(exc)) from None
    return GtinKey(gtin, values.get("22"), values.get("10"), values.get("21"))


def key_link(base_url: str, key: GtinKey) -> str:
    """The uncompressed Digital Link of `key` (qualifiers in the standard's order)."""
    base = _check_base(base_url)
    path = f"/01/{normalize_gtin(key.gtin)}"
    for ai, value in (("22", key.variant), ("10", key.lot), ("21", key.serial)):
        if value is not None:
            path += f"/{ai}/{encode_value(validate_serial(value, f'AI ({ai})'))}"
    return base + path
