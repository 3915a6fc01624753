"""What a resolver link may hold: GS1 Web Vocabulary link types, safe hrefs, BCP 47 language
tags and media types. Each check returns the value as stored or raises LinkError with a reason.

Link types are GS1 Web Vocabulary terms (https://ref.gs1.org/voc/, also published under
https://gs1.org/voc/ and https://www.gs1.org/voc/), named `gs1:<term>`; custom types are refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core.errors import LinkError

GS1_VOC = "https://gs1.org/voc/"

# The GS1 Web Vocabulary's link types (subproperties of gs1:linkType).
LINK_TYPES: frozenset[str] = frozenset(
    {
        "activityIdeas",
        "allergenInfo",
        "appDownload",
        "brandHomepageClinical",
        "brandHomepagePatient",
        "careersInfo",
        "certificationInfo",
        "consumerHandlingStorageInfo",
        "defaultLink",
        "defaultLinkMulti",
        "dpp",
        "eifu",
        "epcis",
        "epil",
        "eventsInfo",
        "faqs",
        "handledBy",
        "hasRetailers",
        "homepage",
        "ingredientsInfo",
        "instructions",
        "jws",
        "leaflet",
        "locationInfo",
        "logisticsInfo",
        "loyaltyProgram",
        "masterData",
        "menuInfo",
        "nutritionalInfo",
        "paymentLink",
        "pip",
        "productSustainabilityInfo",
        "promotion",
        "purchaseSuppliesOrAccessories",
        "quickStartGuide",
        "recallStatus",
        "recipeInfo",
        "recyclingInfo",
        "registerProduct",
        "relatedImage",
        "relatedVideo",
        "review",
        "safetyInfo",
        "scheduleTime",
        "serviceInfo",
        "smartLabel",
        "smpc",
        "socialMedia",
        "statisticInfo",
        "subscribe",
        "support",
        "sustainabilityInfo",
        "traceability",
        "tutorial",
        "userAgreement",
        "verificationService",
        "whatsInTheBox",
    }
)
DEFAULT_LINK = "gs1:defaultLink"

HREF_MAX_LEN = 1024
TITLE_MAX_LEN = 200
HREFLANG_MAX = 10
LANG_TAG_MAX_LEN = 35
MEDIA_TYPE_MAX_LEN = 127
# Hosts an http:// link may name when http is allowed at all (dev mode only).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})

# The patterns below are written once for both Python's re and ECMA-262 (the OpenAPI document
# carries them, and a fuzzer generates values from them): what they accept is exactly what the
# checks accept.
_TERMS = "|".join(sorted(LINK_TYPES))
_PREFIXES = r"gs1:|https?://(?:www\.|ref\.)?gs1\.org/voc/"
LINK_TYPE_PATTERN = rf"^(?:{_PREFIXES})(?:{_TERMS})$"
# RFC 5646 language tag (langtag / privateuse / the irregular grandfathered tags as registered).
LANG_TAG_PATTERN = (
    r"^(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4}|[A-Za-z]{5,8})"  # language
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"  # variants
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"  # extensions
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"  # private use
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+"
    r"|en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo"
    r"|i-pwn|i-tao|i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE)$"
)
# RFC 6838 restricted-name type/subtype, then RFC 9110 parameters (token or quoted string).
_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]"
MEDIA_TYPE_PATTERN = (
    rf"^[A-Za-z0-9]{_TOKEN}{{0,126}}/[A-Za-z0-9]{_TOKEN}{{0,126}}"
    rf'(?:[ \t]*;[ \t]*{_TOKEN}+=(?:{_TOKEN}+|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*$'
)
# https://host[:port][/path][?query][#fragment]: DNS labels, a port up to 65535, then printable
# ASCII without backslash (no user info: '@' cannot be in the host).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_REST = r"(?:[/?#][\x21-\x5b\x5d-\x7e]*)?"
HREF_PATTERN = rf"^https://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?{_REST}$"
_LOOPBACK_HREF = re.compile(rf"^http://(?:localhost|127\.0\.0\.1)(?::{_PORT})?{_REST}$")
# No control, bidirectional-override or zero-width characters; not only spaces. (Lone
# surrogates are refused apart: a pattern naming them is no regex to Rust's engine, which some
# JSON Schema validators use.)
_NOT_TEXT = r"\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
_SURROGATE = re.compile("[\ud800-\udfff]")
TITLE_PATTERN = rf"^[^{_NOT_TEXT}]*[^{_NOT_TEXT}\x20][^{_NOT_TEXT}]*$"

_LINK_TYPE = re.compile(LINK_TYPE_PATTERN)
_LANGTAG = re.compile(LANG_TAG_PATTERN)
_MEDIA_TYPE = re.compile(MEDIA_TYPE_PATTERN)
_HREF = re.compile(HREF_PATTERN)
_TITLE = re.compile(TITLE_PATTERN)


def link_type(value: object) -> str:
    """The `gs1:<term>` name of a link type given as `gs1:<term>` or a vocabulary URI."""
    if not isinstance(value, str) or len(value) > 100:
        raise LinkError("a link type is a GS1 Web Vocabulary term such as gs1:pip")
    if not _LINK_TYPE.fullmatch(value):
        raise LinkError(
            f"{value!r} is not a GS1 Web Vocabulary link type (gs1:pip, gs1:certificationInfo,"
            " ...; custom link types are not accepted)"
        )
    return "gs1:" + value.rsplit("/", 1)[-1].removeprefix("gs1:")


def link_type_uri(name: str) -> str:
    """The full URI of a `gs1:<term>` link type, as a linkset names the relation."""
    return GS1_VOC + link_type(name)[4:]


def href(value: object, allow_loopback_http: bool = False) -> str:
    """An absolute https URL with a host and no credentials (http only to a loopback host, and
    only when `allow_loopback_http`)."""
    if not isinstance(value, str) or not value:
        raise LinkError("href must be a non-empty string")
    if len(value) > HREF_MAX_LEN:
        raise LinkError(f"href must have at most {HREF_MAX_LEN} characters")
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        raise LinkError("href must be ASCII without spaces or control characters (percent-encode)")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise LinkError(f"href is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and allow_loopback_http and host in LOOPBACK_HOSTS:
        pass
    elif scheme != "https":
        raise LinkError(f"href must be an absolute https:// URL, not {scheme or 'relative'}")
    if not host:
        raise LinkError("href must name a host")
    if "@" in parts.netloc:
        raise LinkError("href must not carry a user name or password")
    if "\\" in value:
        raise LinkError("href must not contain a backslash")
    if not (_HREF.fullmatch(value) or (allow_loopback_http and _LOOPBACK_HREF.fullmatch(value))):
        raise LinkError(
            "href must be https://host[:port][/path][?query][#fragment]: a DNS host name, "
            "printable ASCII"
        )
    return value


def title(value: object) -> str:
    """A title people read: 1-200 printable characters, not blank."""
    if not isinstance(value, str) or len(value) > TITLE_MAX_LEN:
        raise LinkError(f"title must be a string of at most {TITLE_MAX_LEN} characters")
    if not _TITLE.fullmatch(value) or _SURROGATE.search(value):
        raise LinkError(
            "title must not be blank nor hold control, zero-width or bidirectional-override "
            "characters"
        )
    return value


def hreflang(values: object) -> list[str]:
    """BCP 47 (RFC 5646) language tags, at most HREFLANG_MAX, without repeats."""
    if not isinstance(values, list | tuple) or len(values) > HREFLANG_MAX:
        raise LinkError(f"hreflang must be a list of at most {HREFLANG_MAX} language tags")
    tags: list[str] = []
    for value in values:
        if (
            not isinstance(value, str)
            or len(value) > LANG_TAG_MAX_LEN
            or not _LANGTAG.fullmatch(value)
        ):
            raise LinkError(f"hreflang {value!r} is not a BCP 47 language tag such as en or de-CH")
        if value in tags:
            raise LinkError(f"hreflang {value!r} appears twice")
        tags.append(value)
    return tags


def media_type(value: object) -> str:
    """A media type such as text/html or application/json; charset=utf-8."""
    if (
        not isinstance(value, str)
        or len(value) > MEDIA_TYPE_MAX_LEN
        or not _MEDIA_TYPE.fullmatch(value)
    ):
        raise LinkError(f"type {value!r} is not a media type such as text/html")
    return value
