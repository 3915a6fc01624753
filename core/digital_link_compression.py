"""Decompression of compressed GS1 Digital Links (GS1 Digital Link standard 1.2, section 8; the
algorithm of GS1's GS1DigitalLinkCompressionPrototype): one path segment of URI-safe base64
holding a bit string of (AI, value) pairs.

Consensus-relevant in the sense that a label printed with a compressed link must keep resolving
to the same key: the tables and bit widths below are the standard's, pinned by the tests'
vectors (tests/core/test_digital_link_compression.py) and checked against GS1's JavaScript
toolkit (tests/api/test_gs1_resolver_rules.py).

Bit layout. The string is read 4 bits (one hex nibble) at a time:
- two nibbles 0-9 are the first two digits of an AI; `_AI_DIGITS` says whether one or two more
  nibbles follow; the AI's value follows in its format (`_FORMATS`);
- two nibbles with a letter name a fixed sequence of AIs (`_SEQUENCES`), whose values follow;
- a first nibble F starts a non-GS1 key=value pair (7 bits key length, 6-bit characters).
A numeric value takes ceil(n * log2(10) + 0.01) bits for n digits; a variable length takes
ceil(log2(max) + 0.01) bits; an alphanumeric value starts with 3 bits naming its encoding
(0 digits, 1 lower hex, 2 upper hex, 3 URI-safe base64, 4 7-bit ASCII). Bits left over at the
end (fewer than 9, base64 padding) are ignored.

Only primary key 01 (GTIN) is decoded into a key; AIs outside `_FORMATS` (other primary keys'
qualifiers, rarely used attributes) are refused, so such a segment is not taken for a link.

One deliberate difference from the prototype: an all-digit alphanumeric value keeps its leading
zeros (the encoded length says how many digits there are; the prototype's decoder drops them,
turning serial "0012" into "12").
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from core.digital_link import GtinKey, encode_value, key_link
from core.errors import DigitalLinkError, Gs1Error
from core.gs1 import normalize_gtin, validate_serial

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEX = "0123456789ABCDEF"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]{4,400}")
# How many digits an AI starting with these two has (GS1 General Specifications, the
# prototype's table P).
_AI_DIGITS: dict[str, int] = {
    f"{first:02d}": digits
    for digits, firsts in (
        (2, (0, 1, 2, 10, 11, 12, 13, 15, 16, 17, 20, 21, 22, 30, 37, *range(90, 100))),
        (3, (23, 24, 25, 40, 41, 42, 71)),
        (4, (31, 32, 33, 34, 35, 36, 39, 43, 70, 72, 80, 81, 82)),
    )
    for first in firsts
}
# Value formats as (kind, length): ("N", n) n digits, ("N..", m) up to m digits,
# ("X..", m) up to m characters of CS82.
_Format = tuple[str, int]
_FORMATS: dict[str, _Format] = {
    "01": ("N", 14),
    "02": ("N", 14),
    "10": ("X..", 20),
    "11": ("N", 6),
    "12": ("N", 6),
    "13": ("N", 6),
    "15": ("N", 6),
    "16": ("N", 6),
    "17": ("N", 6),
    "20": ("N", 2),
    "21": ("X..", 20),
    "22": ("X..", 20),
    "240": ("X..", 30),
    "241": ("X..", 30),
    "242": ("N..", 6),
    "243": ("X..", 20),
    "250": ("X..", 30),
    "251": ("X..", 30),
    "30": ("N..", 8),
    "37": ("N..", 8),
    "7003": ("N", 10),
    "90": ("X..", 30),
    **{str(ai): ("X..", 90) for ai in range(91, 100)},
    # Trade measures 310n-369n: six digits, n the decimal point's position.
    **{f"{ai}{n}": ("N", 6) for ai in range(310, 370) for n in range(10)},
    **{f"392{n}": ("N..", 15) for n in range(10)},
}
# Optimised sequences for common combinations (the prototype's table Opt, GTIN entries).
_SEQUENCES: dict[str, tuple[str, ...]] = {
    "0A": ("01", "22"),
    "0B": ("01", "10"),
    "0C": ("01", "21"),
    "0D": ("01", "17"),
    "0E": ("01", "7003"),
    "0F": ("01", "30"),
    "1A": ("01", "10", "21", "17"),
    "1B": ("01", "15"),
    "1C": ("01", "11"),
    "1D": ("01", "16"),
    "1E": ("01", "91"),
    "1F": ("01", "10", "15"),
    **{f"2{c}": ("01", f"310{i}") for i, c in enumerate("ABCDEF")},
    **{f"3{c}": ("01", f"320{i}") for i, c in enumerate("ABCDEF")},
    **{f"A{i}": ("01", f"392{i}") for i in range(10)},
}
_QUALIFIERS = ("22", "10", "21")


class CompressedLink(NamedTuple):
    """What a compressed link holds: the key, then data attributes and other key=value pairs
    in the order they were encoded."""

    key: GtinKey
    attributes: tuple[tuple[str, str], ...]


def value_bits(digits: int) -> int:
    """Bits of an n-digit number."""
    return math.ceil(digits * math.log(10) / math.log(2) + 0.01) if digits else 0


def length_bits(maximum: int) -> int:
    """Bits of a length indicator for values of at most `maximum` characters."""
    return math.ceil(math.log(maximum) / math.log(2) + 0.01)


class _Bits:
    """A cursor over a bit string; reading past its end is an error, not zeros."""

    def __init__(self, bits: str) -> None:
        self.bits = bits
        self.at = 0

    def left(self) -> int:
        return len(self.bits) - self.at

    def take(self, n: int) -> int:
        if n > self.left():
            raise DigitalLinkError("compressed link ends inside a value")
        chunk = self.bits[self.at : self.at + n]
        self.at += n
        return int(chunk, 2) if chunk else 0

    def digits(self, n: int) -> str:
        number = self.take(value_bits(n))
        text = str(number).zfill(n)
        if len(text) > n:
            raise DigitalLinkError(f"a {n}-digit value holds {number}")
        return text

    def text(self, encoding: int, n: int) -> str:
        """n characters in `encoding` (the 3 bits read before the length)."""
        if encoding == 0:
            return self.digits(n)
        if encoding in (1, 2):
            text = "".join(_HEX[self.take(4)] for _ in range(n))
            return text.lower() if encoding == 1 else text
        if encoding == 3:
            return "".join(BASE64URL[self.take(6)] for _ in range(n))
        if encoding == 4:
            return "".join(chr(self.take(7)) for _ in range(n))
        raise DigitalLinkError(f"unknown value encoding {encoding}")


def _value(bits: _Bits, ai: str) -> str:
    fmt = _FORMATS.get(ai)
    if fmt is None:
        raise DigitalLinkError(f"AI ({ai}) is not supported in a compressed link")
    kind, size = fmt
    if kind == "N":
        return bits.digits(size)
    encoding = bits.take(3) if kind == "X.." else 0
    length = bits.take(length_bits(size))
    if length > size:
        raise DigitalLinkError(f"AI ({ai}) value of {length} characters; at most {size}")
    return bits.text(encoding, length)


def _nibble(bits: _Bits) -> str:
    return _HEX[bits.take(4)]


def decompress_elements(segment: str) -> list[tuple[str, str]]:
    """The (AI or key, value) pairs a compressed path segment holds, in order."""
    if not isinstance(segment, str) or not _SEGMENT.fullmatch(segment):
        raise DigitalLinkError("not a compressed link: 4-400 URI-safe base64 characters")
    bits = _Bits("".join(f"{BASE64URL.index(c):06b}" for c in segment))
    elements: list[tuple[str, str]] = []
    while bits.left() > 8:
        h1, h2 = _nibble(bits), _nibble(bits)
        if h1.isdigit() and h2.isdigit():
            digits = _AI_DIGITS.get(h1 + h2)
            if digits is None:
                raise DigitalLinkError(f"no AI starts with {h1}{h2}")
            ai = h1 + h2 + "".join(_nibble(bits) for _ in range(digits - 2))
            if not ai.isdigit():
                raise DigitalLinkError(f"AI {ai} is not all digits")
            elements.append((ai, _value(bits, ai)))
        elif h1 + h2 in _SEQUENCES:
            elements.extend((ai, _value(bits, ai)) for ai in _SEQUENCES[h1 + h2])
        elif h1 == "F":
            key_len = (_HEX.index(h2) << 3) | bits.take(3)
            key = "".join(BASE64URL[bits.take(6)] for _ in range(key_len))
            encoding = bits.take(3)
            elements.append((key, bits.text(encoding, bits.take(7))))
        else:
            raise DigitalLinkError(f"no AI sequence is coded {h1}{h2}")
    return elements


def decompress(segment: str) -> CompressedLink:
    """The GTIN key and attributes of a compressed link's path segment; DigitalLinkError if it
    is not one (another primary key, an unsupported AI, a bad value or check digit)."""
    elements = decompress_elements(segment)
    if not elements or elements[0][0] != "01":
        raise DigitalLinkError("a compressed GTIN link starts with AI (01)")
    return _link(elements[0][1], elements[1:])


def decompress_partly(path: str) -> CompressedLink | None:
    """A partly compressed link, /01/{gtin}/{compressed qualifiers and attributes} (one trailing
    slash tolerated): its key and attributes; None if the path does not have that shape (three
    segments never make an uncompressed link); DigitalLinkError if it has it but is no link."""
    segments = path.removesuffix("/").split("/")[1:]
    if len(segments) != 3 or segments[0] != "01" or not _SEGMENT.fullmatch(segments[2]):
        return None
    elements = decompress_elements(segments[2])
    if any(ai == "01" for ai, _ in elements):
        raise DigitalLinkError("AI (01) appears twice")
    return _link(segments[1], elements)


def _link(gtin: str, elements: list[tuple[str, str]]) -> CompressedLink:
    seen: dict[str, str] = {}
    attributes: list[tuple[str, str]] = []
    for ai, value in elements:
        if ai == "01" or ai in seen:
            raise DigitalLinkError(f"AI ({ai}) appears twice")
        if ai in _QUALIFIERS:
            seen[ai] = value
        else:
            attributes.append((ai, value))
    try:
        gtin = normalize_gtin(gtin)
        for ai, value in seen.items():
            validate_serial(value, f"AI ({ai})")
    except Gs1Error as exc:
        raise DigitalLinkError(str(exc)) from None
    key = GtinKey(gtin, seen.get("22"), seen.get("10"), seen.get("21"))
    return CompressedLink(key, tuple(attributes))


def uncompressed_uri(base_url: str, link: CompressedLink) -> str:
    """The uncompressed Digital Link a compressed one stands for (attributes in the query)."""
    uri = key_link(base_url, link.key)
    if link.attributes:
        uri += "?" + "&".join(f"{encode_value(k)}={encode_value(v)}" for k, v in link.attributes)
    return uri
