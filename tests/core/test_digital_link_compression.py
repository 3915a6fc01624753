"""Compressed GS1 Digital Links: vectors produced by GS1's toolkit (GS1DigitalLinkCompression-
Prototype, as bundled by the npm digital-link.js 1.4.3: Utils.compressWebUri) and its README,
and what must not be taken for a compressed link."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.digital_link import GtinKey
from core.digital_link_compression import (
    BASE64URL,
    CompressedLink,
    decompress,
    decompress_elements,
    decompress_partly,
    length_bits,
    value_bits,
)
from core.errors import DigitalLinkError

GTIN = "04012345000009"
VECTORS = [
    # The prototype's README (no optimisation: AI 01, then 10 and 21 one by one).
    ("ARHKVAdpQg", [("01", "09780345418913")]),
    (
        "AREjalurbiAUO-cgohCz45Z67b8A",
        [("01", "09421902960055"), ("10", "2010005828"), ("21", "xyz1234")],
    ),
    # The toolkit with its optimisations (sequence codes 0A, 0B, 0C...).
    ("DAdMZMwAklG9W33e", [("01", GTIN), ("21", "deadbeef")]),  # lower-case hex
    ("DAdMZMwAkpG9W33e", [("01", GTIN), ("21", "DEADBEEF")]),  # upper-case hex
    ("CwdMZMwAkxEGFDTK2LJmQwfhf5", [("01", GTIN), ("10", "ABC&+123"), ("21", "x/y")]),  # ASCII
    ("CgdMZMwAksSuogxF6kLElq", [("01", GTIN), ("22", "V1"), ("10", "L1"), ("21", "S1")]),
    ("CxFKk4XBoMhZyeouhBhg", [("01", "09506000134352"), ("10", "LOT1"), ("17", "270531")]),
    # Digits keep their leading zeros (the toolkit's own decoder answers "12" here).
    ("DAdMZMwAkggAY", [("01", GTIN), ("21", "0012")]),
    ("CwdMZMwAkwcxexIQQAM", [("01", GTIN), ("10", "L/1"), ("21", "0012")]),
]


@pytest.mark.parametrize("segment, elements", VECTORS)
def test_toolkit_vectors(segment: str, elements: list[tuple[str, str]]) -> None:
    assert decompress_elements(segment) == elements


def test_the_key_and_attributes() -> None:
    assert decompress("CxFKk4XBoMhZyeouhBhg") == CompressedLink(
        GtinKey("09506000134352", lot="LOT1"), (("17", "270531"),)
    )
    assert decompress("CgdMZMwAksSuogxF6kLElq").key == GtinKey(GTIN, "V1", "L1", "S1")


def test_bit_widths_are_the_standards() -> None:
    assert [value_bits(n) for n in (1, 2, 3, 6, 14)] == [4, 7, 10, 20, 47]
    assert [length_bits(m) for m in (8, 20, 30, 90)] == [4, 5, 5, 7]


@pytest.mark.parametrize(
    "segment",
    [
        "healthz",  # no AI starts with 85
        "openapi",  # ends inside a value
        "metrics",  # an unknown value encoding
        "AAAA",  # AI 00 (SSCC): another primary key
        "ARHKVAdpQh"[:5],  # cut short
        "a/b",
        "",
        "A" * 401,
        "ARHKVAdpQg=",
    ],
)
def test_what_is_no_compressed_gtin_link(segment: str) -> None:
    with pytest.raises(DigitalLinkError):
        decompress(segment)


def test_a_bad_check_digit_is_refused() -> None:
    # 0C (01 + 21) with GTIN 04012345000008: the check digit is wrong.
    good = decompress_elements("DAdMZMwAkggAY")
    assert good[0] == ("01", GTIN)
    bits = "".join(f"{BASE64URL.index(c):06b}" for c in "DAdMZMwAkggAY")
    number = int(bits[8:55], 2) - 1  # the 47 bits of the GTIN, one less
    broken = bits[:8] + f"{number:047b}" + bits[55:]
    segment = "".join(BASE64URL[int(broken[i : i + 6], 2)] for i in range(0, len(broken), 6))
    with pytest.raises(DigitalLinkError, match="check digit"):
        decompress(segment)


@given(st.text(alphabet=BASE64URL, min_size=4, max_size=60))
def test_any_segment_decodes_or_is_refused_cleanly(segment: str) -> None:
    try:
        found = decompress(segment)
    except DigitalLinkError:
        return
    assert len(found.key.gtin) == 14


def test_partly_compressed_links() -> None:
    # GS1's toolkit: gs1ElementStringsToCompressedGS1DigitalLink(..., uncompressedPrimary=true).
    assert decompress_partly(f"/01/{GTIN}/EGIvUhYktQ") == CompressedLink(
        GtinKey(GTIN, lot="L1", serial="S1"), ()
    )
    assert decompress_partly(f"/01/{GTIN}/IUOrw/") == CompressedLink(
        GtinKey(GTIN, serial="ABC"), ()
    )
    assert decompress_partly(f"/01/{GTIN}/21/S1") is None  # an uncompressed link
    assert decompress_partly(f"/01/{GTIN}") is None
    with pytest.raises(DigitalLinkError, match="twice"):
        decompress_partly(f"/01/{GTIN}/DAdMZMwAkggAY")  # holds a GTIN of its own
