"""EPC URIs (instance, class, pattern) to canonical GS1 Digital Link URIs, for the event hash.

CBV 2.0 hash rule 17. The accepted syntax and every conversion follow the reference
implementation (epcis-event-hash-generator 1.9.3, dl_normaliser) character for character,
including its quirks, because the result is hashed: any difference changes the event's identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# One URI character of an EPC component (GS1 TDS), percent escapes allowed.
_C = (
    r"(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]"
    r"|[!\')(*+,.0-9:;=A-Za-z_-])"
)
# One character of a CPI component reference.
_P = r"(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-])"
# One character allowed in a canonical Digital Link value (GS1 AI encodable set 82, minus '/').
_Q = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"


def _split(total: int, tail: str = "", last: str | None = None) -> str:
    """Alternatives 'company prefix (6..12 digits) . rest', `total` digits in all."""
    parts = [rf"(\d{{{n}}}\.\d{{{total - n}}}{tail})" for n in range(6, 12)]
    parts.append(last if last is not None else rf"(\d{{12}}\.\d{{{total - 12}}}{tail})")
    return "(" + "|".join(parts) + ")"


def _chars(cls: str, total: int) -> str:
    """Alternatives 'company prefix (6..12 digits) . 1..(total - digits) characters of cls'."""
    return "(" + "|".join(rf"(\d{{{n}}}\.{cls}{{1,{total - n}}})" for n in range(6, 13)) + ")"


_GTIN = _split(13)
_TWELVE_DOUBLE_DOT = r"(\d{12}\.\.)"


def _check_digit(digits: str) -> int:
    """GS1 mod-10 check digit (GS1 General Specifications 7.9.1) of a key without it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _pct(text: str) -> str:
    """Percent-encode the characters Digital Link table 7-1 requires that EPC URIs allow."""
    for char, code in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A")):
        text = text.replace(char, code)
    for char, code in (("+", "%2B"), (",", "%2C"), (":", "%3A")):
        text = text.replace(char, code)
    return text


def _gtin(uri: str, start: int, dot: int) -> str:
    """GTIN-14 with check digit from an SGTIN-like URI: indicator digit moved to the front."""
    prefix = uri[start:dot]
    item = uri[dot + 1 : dot + 1 + 13 - len(prefix)]
    raw = item[:1] + prefix + item[1:]
    return raw + str(_check_digit(raw))


def _keyed(uri: str, start: int, dot: int, length: int) -> str:
    """Company prefix + reference padded to `length` digits, with check digit."""
    prefix = uri[start:dot]
    raw = prefix + uri[dot + 1 : dot + 1 + length - len(prefix)]
    return raw + str(_check_digit(raw))


def _whole(uri: str, start: int, dot: int) -> str:
    """Company prefix + everything after the first dot, with check digit (GSRN, GSIN)."""
    raw = uri[start:dot] + uri[dot + 1 :]
    return raw + str(_check_digit(raw))


def _sscc(uri: str, dot: int) -> str:
    raw = uri[dot + 1 : dot + 2] + uri[16:dot] + uri[dot + 2 :]
    return "https://id.gs1.org/00/" + raw + str(_check_digit(raw))


def _sgln(uri: str, dot: int) -> str:
    gln = _keyed(uri, 16, dot, 12)
    extension = uri[30:]
    if extension == "0":
        return "https://id.gs1.org/414/" + gln
    return "https://id.gs1.org/414/" + gln + "/254/" + _pct(extension)


def _grai(uri: str, start: int, dot: int, serial: str) -> str:
    prefix = uri[start:dot]
    raw = "0" + prefix + uri[dot + 1 : dot + 1 + 12 - len(prefix)]
    return "https://id.gs1.org/8003/" + raw + str(_check_digit(raw)) + serial


def _cpi(uri: str, start: int, dot: int, with_serial: bool) -> str:
    last = uri.rfind(".")
    cpi = "https://id.gs1.org/8010/" + _pct(uri[start:dot] + uri[dot + 1 : last])
    return cpi + "/8011/" + uri[last + 1 :] if with_serial else cpi


def _itip(uri: str, start: int, dot: int, tail: int) -> str:
    piece_total = uri[tail : tail + 2] + uri[tail + 3 : tail + 5]
    return "https://id.gs1.org/8006/" + _gtin(uri, start, dot) + piece_total


_RULES: tuple[tuple[str, Callable[[str, int], str]], ...] = (
    (
        rf"^urn:epc:id:sgtin:{_GTIN}\.{_C}{{1,20}}$",
        lambda u, d: f"https://id.gs1.org/01/{_gtin(u, 17, d)}/21/{_pct(u[32:])}",
    ),
    (rf"^urn:epc:id:sscc:{_split(17, '$')}", _sscc),
    (rf"^urn:epc:id:sgln:{_split(12)}\.{_C}{{1,20}}$", _sgln),
    (
        rf"^urn:epc:id:grai:{_split(12, last=_TWELVE_DOUBLE_DOT)}\.{_C}{{1,16}}$",
        lambda u, d: _grai(u, 16, d, _pct(u[30:])),
    ),
    (
        rf"^urn:epc:id:giai:{_chars(_C, 30)}$",
        lambda u, d: "https://id.gs1.org/8004/" + u[16:d] + _pct(u[d + 1 :]),
    ),
    (
        rf"^urn:epc:id:gsrn:{_split(17, '$')}",
        lambda u, d: "https://id.gs1.org/8018/" + _whole(u, 16, d),
    ),
    (
        rf"^urn:epc:id:gsrnp:{_split(17, '$')}",
        lambda u, d: "https://id.gs1.org/8017/" + _whole(u, 17, d),
    ),
    (
        rf"^urn:epc:id:gdti:{_split(12, last=_TWELVE_DOUBLE_DOT)}{_C}{{1,20}}$",
        lambda u, d: "https://id.gs1.org/253/" + _keyed(u, 16, d, 12) + _pct(u[30:]),
    ),
    (
        rf"^urn:epc:id:cpi:{_chars(_P, 30)}\.\d{{1,12}}$",
        lambda u, d: _cpi(u, 15, d, with_serial=True),
    ),
    (
        rf"^urn:epc:id:sgcn:{_split(12)}\.\d{{1,12}}$",
        lambda u, d: "https://id.gs1.org/255/" + _keyed(u, 16, d, 12) + u[30:],
    ),
    (
        rf"^urn:epc:id:ginc:{_chars(_C, 30)}$",
        lambda u, d: "https://id.gs1.org/401/" + u[16:d] + _pct(u[d + 1 :]),
    ),
    (
        rf"^urn:epc:id:gsin:{_split(16, '$')}",
        lambda u, d: "https://id.gs1.org/402/" + _whole(u, 16, d),
    ),
    (
        rf"^urn:epc:id:itip:{_GTIN}\.\d{{2}}\.\d{{2}}\.{_C}{{1,20}}$",
        lambda u, d: _itip(u, 16, d, 31) + "/21/" + _pct(u[37:]),
    ),
    (
        rf"^urn:epc:id:upui:{_GTIN}\.{_C}{{1,28}}$",
        lambda u, d: f"https://id.gs1.org/01/{_gtin(u, 16, d)}/235/{_pct(u[31:])}",
    ),
    (
        rf"^urn:epc:id:pgln:{_split(12)}$",
        lambda u, d: "https://id.gs1.org/417/" + _keyed(u, 16, d, 12),
    ),
    (
        rf"^urn:epc:class:lgtin:{_GTIN}\.{_C}{{1,20}}$",
        lambda u, d: f"https://id.gs1.org/01/{_gtin(u, 20, d)}/10/{_pct(u[35:])}",
    ),
    (
        rf"^urn:epc:idpat:sgtin:{_GTIN}\.\*$",
        lambda u, d: "https://id.gs1.org/01/" + _gtin(u, 20, d),
    ),
    (
        rf"^urn:epc:idpat:grai:{_split(12, last=_TWELVE_DOUBLE_DOT)}\.\*$",
        lambda u, d: _grai(u, 19, d, ""),
    ),
    (
        rf"^urn:epc:idpat:gdti:{_split(12, last=_TWELVE_DOUBLE_DOT)}\.\*$",
        lambda u, d: "https://id.gs1.org/253/" + _keyed(u, 19, d, 12),
    ),
    (
        rf"^urn:epc:idpat:sgcn:{_split(12, last=_TWELVE_DOUBLE_DOT)}\.\*$",
        lambda u, d: "https://id.gs1.org/255/" + _keyed(u, 19, d, 12),
    ),
    (
        rf"^urn:epc:idpat:cpi:{_chars(_P, 30)}\.\*$",
        lambda u, d: _cpi(u, 18, d, with_serial=False),
    ),
    (
        rf"^urn:epc:idpat:itip:{_GTIN}\.\d{{2}}\.\d{{2}}\.\*$",
        lambda u, d: _itip(u, 19, d, 34),
    ),
    (
        rf"^urn:epc:idpat:upui:{_GTIN}\.\*$",
        lambda u, d: "https://id.gs1.org/01/" + _gtin(u, 19, d),
    ),
)

# Each pattern starts with its scheme ("urn:epc:id:sgtin:"), so a URI is tried against one rule.
_BY_SCHEME: dict[str, tuple[re.Pattern[str], Callable[[str, int], str]]] = {
    pattern[1 : pattern.index("(")]: (re.compile(pattern), convert) for pattern, convert in _RULES
}


def epc_to_digital_link(uri: str, first_dot: int) -> str | None:
    """The canonical Digital Link URI of an EPC URI, or None if `uri` is not one."""
    parts = uri.split(":", 4)
    rule = _BY_SCHEME.get(":".join(parts[:4]) + ":") if len(parts) == 5 else None
    if rule is None or not rule[0].match(uri):
        return None
    return rule[1](uri, first_dot)
