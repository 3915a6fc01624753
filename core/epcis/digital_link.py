"""GS1 identifiers to the constrained canonical GS1 Digital Link URI of the event hash.

CBV 2.0 hash rules 17 and 18: EPC URIs become canonical Digital Link URIs; a Digital Link URI gets
the id.gs1.org domain, loses its query string and keeps only the finest identification level.
Syntax and steps follow the reference implementation (epcis-event-hash-generator 1.9.3,
dl_normaliser) exactly, quirks included: the output is hashed, so any difference is a new identity.
"""

from __future__ import annotations

import re

from core.epcis.epc_uri import epc_to_digital_link

_KEYS = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    "|401|ginc|402|gsin|8003|grai|8004|giai"
)
_DIGITAL_LINK = re.compile(
    r"^https?:(\/\/((([^\/?#]*)@)?([^\/?#:]*)(:([^\/?#]*))?))?((([^?#]*)(\/("
    + _KEYS
    + r")\/)(\d{4}[^\/]+)(\/[^/]+\/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(\/[A-Za-z_-]{10}$))"
)
_CANONICAL_DOMAIN = re.compile(
    r"^https:\/\/id.gs1.org\/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)\/"
    r"(\d{4}[^\/]+)(\/[^\/]+\/[^\/]+)?[\/]?(\?([^?\n]*))?(#([^\n]*))?|(\/[A-Za-z_-]{10}$)"
)
# Short names of keys and qualifiers (Digital Link 1.x) to their application identifiers.
_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
# Primary keys in the order the reference looks for them when replacing a custom domain.
_PRIMARY_KEYS = (
    "/00/",
    "/01/",
    "/253/",
    "/255/",
    "/401/",
    "/402/",
    "/414/",
    "/417/",
    "/8003/",
    "/8004/",
    "/8006/",
    "/8010/",
    "/8017/",
    "/8018/",
)

_Q = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_QS = r"[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_DL = r"https:\/\/id.gs1.org\/"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("DL/", _DL))


_CPV_ONLY = (
    _rx(rf"DL/8006\/\d{{18}}\/22\/({_Q}{{0,20}})$"),
    _rx(rf"DL/01\/\d{{14}}\/22\/({_Q}{{0,20}})$"),
)
_CPV_MORE = (
    _rx(rf"DL/8006\/\d{{18}}\/22\/({_QS}{{0,20}})$"),
    _rx(rf"DL/01\/\d{{14}}\/22\/({_QS}{{0,20}})$"),
)
_LOT_AND_SERIAL = (
    _rx(rf"DL/8006\/\d{{18}}\/10\/({_Q}{{0,20}})\/21\/({_Q}{{0,20}})$"),
    _rx(rf"DL/01\/(\d{{14}})\/10\/({_Q}{{0,20}})\/21\/({_Q}{{0,20}})$"),
)
# The identification levels a constrained canonical Digital Link URI may have (rule 18 III).
_VALID = tuple(
    _rx(p)
    for p in (
        r"DL/00\/(\d{18})$",
        rf"DL/01\/(\d{{14}})\/21\/({_Q}{{0,20}})$",
        rf"DL/01\/(\d{{14}})\/10\/({_Q}{{0,20}})$",
        r"DL/01\/(\d{14})$",
        rf"DL/01\/(\d{{14}})\/235\/({_Q}{{0,28}})$",
        rf"DL/253\/(\d{{13}})({_Q}{{0,17}})$",
        r"DL/255\/(\d{13})(\d{0,12})$",
        rf"DL/401\/({_Q}{{0,30}})$",
        r"DL/402\/(\d{17})$",
        r"DL/414\/(\d{13})$",
        rf"DL/414\/(\d{{13}})\/254\/({_Q}{{0,20}})$",
        r"DL/417\/(\d{13})$",
        rf"DL/8003\/(\d{{14}})({_Q}{{0,16}})$",
        rf"DL/8004\/({_Q}{{0,30}})$",
        rf"DL/8006\/(\d{{18}})\/21\/({_Q}{{0,20}})$",
        rf"DL/8006\/(\d{{18}})\/10\/({_Q}{{0,20}})$",
        r"DL/8006\/(\d{18})$",
        r"DL/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})\/8011/(\d{0,12})$",
        r"DL/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$",
        r"DL/8017\/(\d{18})$",
        r"DL/8018\/(\d{18})$",
    )
)


def _any(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(p.match(text) for p in patterns)


def _constrain(uri: str) -> str | None:
    """Canonical domain, AI codes, 14-digit GTIN, no CPV or lot below a serial; None if invalid."""
    if "?" in uri:
        uri = uri[: uri.index("?")]
    for short, code in _SHORT_NAMES:
        uri = uri.replace(short, code)
    if not _CANONICAL_DOMAIN.match(uri):
        for key in _PRIMARY_KEYS:
            if key in uri:
                uri = "https://id.gs1.org" + uri[uri.find(key) :]
                break
    if not re.match(r"^https:\/\/id.gs1.org\/01\/\d{14}", uri):
        # str.replace on every "/01/", not only the key's: the reference does exactly this.
        if re.match(r"^https:\/\/id.gs1.org\/01\/\d{13}", uri):
            uri = uri.replace("/01/", "/01/0")
        elif re.match(r"^https:\/\/id.gs1.org\/01\/\d{12}", uri):
            uri = uri.replace("/01/", "/01/00")
        elif re.match(r"^https:\/\/id.gs1.org\/01\/\d{8}", uri):
            uri = uri.replace("/01/", "/01/000000")
    after_cpv = uri[uri.find("/22/") + 4 :]
    if _any(_CPV_ONLY, uri):
        # Drops the CPV and, as the reference does, the slice [find('/'):-1] of what follows.
        uri = uri[: uri.find("/22/")] + after_cpv[after_cpv.find("/") : -1]
    if _any(_CPV_MORE, uri):
        uri = uri[: uri.find("/22/")] + after_cpv[after_cpv.find("/") :]
    if _any(_LOT_AND_SERIAL, uri):
        after_lot = uri[uri.find("/10/") + 4 :]
        uri = uri[: uri.find("/10/")] + after_lot[after_lot.find("/") :]
    return uri if _any(_VALID, uri) else None


def normalise(uri: str) -> str | None:
    """The constrained canonical Digital Link URI for an EPC or Digital Link URI, else None."""
    first_dot = uri.find(".")
    if first_dot < 0:
        return None
    converted = epc_to_digital_link(uri, first_dot)
    if converted is not None:
        return converted
    if not _DIGITAL_LINK.match(uri):
        return None
    return _constrain(uri)
