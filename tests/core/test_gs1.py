"""GS1 keys, serials and EPC URNs (examples from the GS1 General Specifications and TDS)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.errors import Gs1Error
from core.gs1 import (
    CS82,
    check_digit,
    gtin_has_prefix,
    is_valid_gtin,
    normalize_gln,
    normalize_gtin,
    parse_sgln_urn,
    parse_sgtin_urn,
    sgln_urn,
    sgtin_urn,
    urn_escape,
    validate_company_prefix,
    validate_serial,
)

CS82_SYMBOLS = "!\"%&'()*+,-./:;<=>?_"
serials = st.text(alphabet=sorted(CS82), min_size=1, max_size=20)
bodies13 = st.text(alphabet="0123456789", min_size=13, max_size=13)


def test_cs82_is_exactly_the_82_characters() -> None:
    assert len(CS82) == 82
    assert set(CS82_SYMBOLS) <= CS82
    assert not {" ", "#", "~", "$", "@", "é", "\n"} & CS82


@pytest.mark.parametrize(
    ("gtin", "normalized"),
    [
        ("09506000134352", "09506000134352"),  # GS1 Digital Link examples
        ("9506000134352", "09506000134352"),  # GTIN-13
        ("4006381333931", "04006381333931"),  # EAN-13 printed on a retail item
        ("036000291452", "00036000291452"),  # UPC-A (GTIN-12)
        ("96385074", "00000096385074"),  # GTIN-8
        ("80614141123458", "80614141123458"),  # TDS SGTIN example
    ],
)
def test_normalize_gtin_known_examples(gtin: str, normalized: str) -> None:
    assert normalize_gtin(gtin) == normalized
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("09506000134353", "check digit 3, expected 2"),
        ("0950600013435", "check digit 5, expected 9"),  # a GTIN-14 with its last digit cut
        ("950600013435", "check digit 5, expected"),
        ("1234567", "got 7"),
        ("123456789012345", "got 15"),
        ("", "only the digits"),
        ("0950600013435A", "only the digits"),
        (" 9506000134352", "only the digits"),
        ("٩٥٠٦٠٠٠١٣٤٣٥٢", "only the digits"),  # Arabic-Indic digits pass str.isdigit
        (9506000134352, "must be a string"),
    ],
)
def test_normalize_gtin_rejects(gtin: Any, message: str) -> None:
    with pytest.raises(Gs1Error, match=message):
        normalize_gtin(gtin)
    assert not is_valid_gtin(gtin)


@given(bodies13, st.integers(0, 12), st.integers(1, 9))
def test_check_digit_catches_every_single_digit_error(body: str, pos: int, delta: int) -> None:
    gtin = body + check_digit(body)
    assert normalize_gtin(gtin) == gtin
    mutated = gtin[:pos] + str((int(gtin[pos]) + delta) % 10) + gtin[pos + 1 :]
    assert not is_valid_gtin(mutated)


def test_gs1_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_gtin("123")


def test_company_prefix_and_membership() -> None:
    assert validate_company_prefix("9506000") == "9506000"
    assert gtin_has_prefix("09506000134352", "9506000")
    assert gtin_has_prefix("9506000134352", "950600")
    assert not gtin_has_prefix("09506000134352", "9506001")
    # A UPC company prefix in GTIN-13 form carries a leading zero.
    assert gtin_has_prefix("036000291452", "0036000")
    for bad, message in [
        ("12345", "6-12 digits, got 5"),
        ("1" * 13, "got 13"),
        ("12a456", "digits"),
    ]:
        with pytest.raises(Gs1Error, match=message):
            validate_company_prefix(bad)
    with pytest.raises(Gs1Error):
        gtin_has_prefix("09506000134353", "9506000")


def test_validate_serial() -> None:
    assert validate_serial("A") == "A"
    assert validate_serial("x" * 20) == "x" * 20
    assert validate_serial(CS82_SYMBOLS) == CS82_SYMBOLS
    for bad, message in [
        ("", "1-20 characters, got 0"),
        ("x" * 21, "got 21"),
        ("AB CD", "outside GS1 CS82: ' '"),
        ("A#B~", "outside GS1 CS82: '#~'"),
        ("é", "outside GS1 CS82"),
    ]:
        with pytest.raises(Gs1Error, match=message):
            validate_serial(bad)
    with pytest.raises(Gs1Error, match="must be a string"):
        validate_serial(123)  # type: ignore[arg-type]


def test_sgtin_urn_tag_data_standard_example() -> None:
    urn = sgtin_urn("80614141123458", "6789", 7)
    assert urn == "urn:epc:id:sgtin:0614141.812345.6789"
    assert parse_sgtin_urn(urn) == ("80614141123458", "6789", 7)


def test_sgtin_urn_escapes_exactly_the_tds_characters() -> None:
    assert urn_escape(CS82_SYMBOLS) == "!%22%25%26'()*+,-.%2F:;%3C=%3E%3F_"
    urn = sgtin_urn("09506000134352", 'a/b%c"d', 7)
    assert urn == "urn:epc:id:sgtin:9506000.013435.a%2Fb%25c%22d"
    assert parse_sgtin_urn(urn).serial == 'a/b%c"d'
    # Lower-case hex in an escape is accepted on input.
    assert parse_sgtin_urn("urn:epc:id:sgtin:9506000.013435.a%2fb").serial == "a/b"


@given(bodies13, serials, st.integers(6, 12))
@example("0950600013435", CS82_SYMBOLS, 12)
@example("0950600013435", "%25", 6)
def test_sgtin_urn_round_trip(body: str, serial: str, prefix_len: int) -> None:
    gtin = body + check_digit(body)
    urn = sgtin_urn(gtin, serial, prefix_len)
    assert parse_sgtin_urn(urn) == (gtin, serial, prefix_len)


@pytest.mark.parametrize(
    ("urn", "message"),
    [
        ("urn:epc:id:sgln:0614141.12345.0", "not an SGTIN URN"),
        ("URN:EPC:ID:SGTIN:0614141.812345.6789", "not an SGTIN URN"),
        ("urn:epc:id:sgtin:0614141.812345", "<prefix>.<item>.<serial>"),
        ("urn:epc:id:sgtin:0614141.81234.6789", "total 13 digits"),
        ("urn:epc:id:sgtin:06141.81234567.6789", "prefix_len must be 6-12"),
        ("urn:epc:id:sgtin:061414a.812345.6789", "only the digits"),
        ("urn:epc:id:sgtin:0614141.812345.", "has characters an EPC URN does not allow"),
        ("urn:epc:id:sgtin:0614141.812345.a/b", "has characters an EPC URN does not allow"),
        ("urn:epc:id:sgtin:0614141.812345.a%2", "has characters an EPC URN does not allow"),
        ("urn:epc:id:sgtin:0614141.812345.a%20b", "outside GS1 CS82"),
        ("urn:epc:id:sgtin:0614141.812345." + "1" * 21, "1-20 characters"),
    ],
)
def test_parse_sgtin_urn_rejects(urn: str, message: str) -> None:
    with pytest.raises(Gs1Error, match=message):
        parse_sgtin_urn(urn)


def test_sgtin_urn_rejects_bad_arguments() -> None:
    with pytest.raises(Gs1Error, match="prefix_len must be 6-12, got 5"):
        sgtin_urn("80614141123458", "1", 5)
    with pytest.raises(Gs1Error, match="prefix_len must be an int"):
        sgtin_urn("80614141123458", "1", True)
    with pytest.raises(Gs1Error, match="outside GS1 CS82"):
        sgtin_urn("80614141123458", "a b", 7)


def test_gln_and_sgln() -> None:
    gln = "0614141" + "12345" + check_digit("061414112345")
    assert normalize_gln(gln) == gln
    urn = sgln_urn(gln, "5678", 7)
    assert urn == "urn:epc:id:sgln:0614141.12345.5678"
    assert parse_sgln_urn(urn) == (gln, "5678", 7)
    # A 12-digit company prefix leaves the location reference empty.
    assert sgln_urn(gln, "0", 12) == "urn:epc:id:sgln:061414112345..0"
    assert parse_sgln_urn("urn:epc:id:sgln:061414112345..0") == (gln, "0", 12)
    assert parse_sgln_urn(sgln_urn(gln, "a/b", 9)).extension == "a/b"
    with pytest.raises(Gs1Error, match="must have 13 digits"):
        normalize_gln("061414112345")
    with pytest.raises(Gs1Error, match="check digit"):
        normalize_gln(gln[:-1] + str((int(gln[-1]) + 1) % 10))
    with pytest.raises(Gs1Error, match="total 12 digits"):
        parse_sgln_urn("urn:epc:id:sgln:0614141.1234.0")
    with pytest.raises(Gs1Error, match="not an SGLN URN"):
        parse_sgln_urn("urn:epc:id:sgtin:0614141.812345.6789")
