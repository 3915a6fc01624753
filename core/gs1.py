"""GS1 identifiers: GTIN and GLN check digits, company prefixes, serials, SGTIN/SGLN EPC URNs.

Rules from the GS1 General Specifications (mod-10 check digit, AI 21 serial: 1-20 characters
of the 82-character set "CS82") and the EPC Tag Data Standard (pure-identity URNs, where the
characters `" % & / < > ?` of a serial are percent-escaped).
"""

from __future__ import annotations

import re
import string
from typing import NamedTuple

from core.errors import Gs1Error

# GS1 AI encodable character set 82 (General Specifications, figure 7.11-1).
CS82_SYMBOLS = "!\"%&'()*+,-./:;<=>?_"
CS82: frozenset[str] = frozenset(string.digits + string.ascii_letters + CS82_SYMBOLS)
SERIAL_MAX_LEN = 20
GTIN_LENGTHS = (8, 12, 13, 14)
PREFIX_MIN_LEN, PREFIX_MAX_LEN = 6, 12

SGTIN_URN_PREFIX = "urn:epc:id:sgtin:"
SGLN_URN_PREFIX = "urn:epc:id:sgln:"
# Tag Data Standard, table A-1: CS82 characters that an EPC URI must percent-escape.
_URN_ESCAPES = {c: f"%{ord(c):02X}" for c in '"%&/<>?'}
_URN_COMPONENT = re.compile(r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!'()*+,\-.:;=_])+")
_URN_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class Sgtin(NamedTuple):
    """A serialised GTIN: 14-digit GTIN, serial, and the length of its company prefix."""

    gtin: str
    serial: str
    prefix_len: int


class Sgln(NamedTuple):
    """A GLN with extension ("0" means none) and the length of its company prefix."""

    gln: str
    extension: str
    prefix_len: int


def _digits(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise Gs1Error(f"{what} must be a string of digits, got {type(value).__name__}")
    # str.isdigit accepts non-ASCII digits such as '٣'; GS1 keys are ASCII only.
    if not value or not (value.isascii() and value.isdigit()):
        raise Gs1Error(f"{what} must contain only the digits 0-9, got {value!r}")
    return value


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit for the digits before it (weights 3,1,3,... from the right)."""
    body = _digits(body, "GS1 key body")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)


def _check_key(key: str, what: str) -> None:
    expected = check_digit(key[:-1])
    if key[-1] != expected:
        raise Gs1Error(f"{what} {key} has check digit {key[-1]}, expected {expected}")


def normalize_gtin(gtin: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as 14 digits (left-padded with zeros)."""
    gtin = _digits(gtin, "GTIN")
    if len(gtin) not in GTIN_LENGTHS:
        raise Gs1Error(f"GTIN must have 8, 12, 13 or 14 digits, got {len(gtin)}: {gtin!r}")
    _check_key(gtin, "GTIN")
    return gtin.zfill(14)


def is_valid_gtin(gtin: object) -> bool:
    """True if `gtin` is a well-formed GTIN-8/12/13/14 with a correct check digit."""
    try:
        normalize_gtin(gtin)  # type: ignore[arg-type]
    except Gs1Error:
        return False
    return True


def validate_company_prefix(prefix: str) -> str:
    """A GS1 company prefix: 6 to 12 digits."""
    prefix = _digits(prefix, "GS1 company prefix")
    if not PREFIX_MIN_LEN <= len(prefix) <= PREFIX_MAX_LEN:
        raise Gs1Error(
            f"GS1 company prefix must have {PREFIX_MIN_LEN}-{PREFIX_MAX_LEN} digits, "
            f"got {len(prefix)}: {prefix!r}"
        )
    return prefix


def gtin_has_prefix(gtin: str, prefix: str) -> bool:
    """True if the GTIN was allocated under `prefix` (digits after the indicator digit)."""
    gtin14 = normalize_gtin(gtin)
    prefix = validate_company_prefix(prefix)
    return gtin14[1 : 1 + len(prefix)] == prefix


def validate_serial(serial: str, what: str = "serial") -> str:
    """An AI 21 serial (or other CS82 value): 1-20 characters of CS82."""
    if not isinstance(serial, str):
        raise Gs1Error(f"{what} must be a string, got {type(serial).__name__}")
    if not 1 <= len(serial) <= SERIAL_MAX_LEN:
        raise Gs1Error(f"{what} must have 1-{SERIAL_MAX_LEN} characters, got {len(serial)}")
    bad = sorted({c for c in serial if c not in CS82})
    if bad:
        raise Gs1Error(f"{what} has characters outside GS1 CS82: {''.join(bad)!r}")
    return serial


def normalize_gln(gln: str) -> str:
    """Validate a 13-digit GLN and its check digit."""
    gln = _digits(gln, "GLN")
    if len(gln) != 13:
        raise Gs1Error(f"GLN must have 13 digits, got {len(gln)}: {gln!r}")
    _check_key(gln, "GLN")
    return gln


def _check_prefix_len(prefix_len: int) -> int:
    if isinstance(prefix_len, bool) or not isinstance(prefix_len, int):
        raise Gs1Error(f"prefix_len must be an int, got {type(prefix_len).__name__}")
    if not PREFIX_MIN_LEN <= prefix_len <= PREFIX_MAX_LEN:
        raise Gs1Error(f"prefix_len must be {PREFIX_MIN_LEN}-{PREFIX_MAX_LEN}, got {prefix_len}")
    return prefix_len


def urn_escape(value: str) -> str:
    """Escape a CS82 value for an EPC pure-identity URN (Tag Data Standard)."""
    return "".join(_URN_ESCAPES.get(c, c) for c in value)


def urn_unescape(component: str, what: str) -> str:
    """Decode an EPC URN component; the result must be a CS82 value of 1-20 characters."""
    if not _URN_COMPONENT.fullmatch(component):
        raise Gs1Error(f"{what} {component!r} has characters an EPC URN does not allow")
    value = _URN_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), component)
    return validate_serial(value, what)


def sgtin_urn(gtin: str, serial: str, prefix_len: int) -> str:
    """urn:epc:id:sgtin:<company prefix>.<indicator + item reference>.<escaped serial>."""
    gtin14 = normalize_gtin(gtin)
    serial = validate_serial(serial)
    n = _check_prefix_len(prefix_len)
    company, item = gtin14[1 : 1 + n], gtin14[0] + gtin14[1 + n : 13]
    return f"{SGTIN_URN_PREFIX}{company}.{item}.{urn_escape(serial)}"


def parse_sgtin_urn(urn: str) -> Sgtin:
    """Parse an SGTIN pure-identity URN into (gtin14, serial, prefix_len)."""
    if not isinstance(urn, str) or not urn.startswith(SGTIN_URN_PREFIX):
        raise Gs1Error(f"not an SGTIN URN (expected {SGTIN_URN_PREFIX}...): {urn!r}")
    parts = urn[len(SGTIN_URN_PREFIX) :].split(".", 2)  # a serial may itself contain '.'
    if len(parts) != 3:
        raise Gs1Error(f"SGTIN URN needs <prefix>.<item>.<serial>: {urn!r}")
    company, item, escaped = parts
    _check_prefix_len(len(_digits(company, "SGTIN company prefix")))
    _digits(item, "SGTIN indicator and item reference")
    if len(company) + len(item) != 13:
        raise Gs1Error(f"SGTIN company prefix and item reference must total 13 digits: {urn!r}")
    body = item[0] + company + item[1:]
    gtin = body + check_digit(body)
    return Sgtin(gtin, urn_unescape(escaped, "SGTIN serial"), len(company))


def sgln_urn(gln: str, extension: str, prefix_len: int) -> str:
    """urn:epc:id:sgln:<company prefix>.<location reference>.<escaped extension>."""
    gln = normalize_gln(gln)
    extension = validate_serial(extension, "GLN extension")
    n = _check_prefix_len(prefix_len)
    return f"{SGLN_URN_PREFIX}{gln[:n]}.{gln[n:12]}.{urn_escape(extension)}"


def parse_sgln_urn(urn: str) -> Sgln:
    """Parse an SGLN pure-identity URN into (gln, extension, prefix_len)."""
    if not isinstance(urn, str) or not urn.startswith(SGLN_URN_PREFIX):
        raise Gs1Error(f"not an SGLN URN (expected {SGLN_URN_PREFIX}...): {urn!r}")
    parts = urn[len(SGLN_URN_PREFIX) :].split(".", 2)
    if len(parts) != 3:
        raise Gs1Error(f"SGLN URN needs <prefix>.<location>.<extension>: {urn!r}")
    company, location, escaped = parts
    _check_prefix_len(len(_digits(company, "SGLN company prefix")))
    if location:
        _digits(location, "SGLN location reference")
    if len(company) + len(location) != 12:
        raise Gs1Error(f"SGLN company prefix and location reference must total 12 digits: {urn!r}")
    body = company + location
    return Sgln(body + check_digit(body), urn_unescape(escaped, "GLN extension"), len(company))
