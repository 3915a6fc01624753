"""GS1 Digital Link build/parse: percent-encoding of CS82 serials, GTIN forms, hostile links."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.digital_link import (
    GtinKey,
    build_link,
    decode_value,
    encode_value,
    key_link,
    parse_gtin_key,
    parse_link,
)
from core.errors import DigitalLinkError, Gs1Error
from core.gs1 import CS82, check_digit

GTIN = "09506000134352"
BASE = "https://id.example.com"
serials = st.text(alphabet=sorted(CS82), min_size=1, max_size=20)
bodies13 = st.text(alphabet="0123456789", min_size=13, max_size=13)


@given(bodies13, serials, st.sampled_from([BASE, BASE + "/", "http://x.test/dl/01", ""]))
@example("0950600013435", "!\"%&'()*+,-./:;<=>?_", BASE)
@example("0950600013435", "01", BASE)
@example("0950600013435", "21", "https://x.test/01")
def test_round_trip_over_cs82(body: str, serial: str, base: str) -> None:
    gtin = body + check_digit(body)
    link = build_link(base, gtin, serial)
    assert parse_link(link) == (gtin, serial)
    path = link[link.index("/01/") :] if base == "" else link
    assert parse_link(path) == (gtin, serial)
    # The encoded serial is one path segment that decodes back (no '/', '?', '#' leak).
    segment = link.rsplit("/", 1)[1]
    assert unquote(segment) == serial


@pytest.mark.parametrize(
    ("serial", "encoded"),
    [
        ("A/B", "A%2FB"),
        ("100%", "100%25"),
        ("a+b", "a%2Bb"),
        ("x?y", "x%3Fy"),
        ("x&y=z", "x%26y%3Dz"),
        ('"q"', "%22q%22"),
        ("<a>", "%3Ca%3E"),
        ("a-b.c_d", "a-b.c_d"),
    ],
)
def test_pinned_encodings(serial: str, encoded: str) -> None:
    link = build_link(BASE, GTIN, serial)
    assert link == f"{BASE}/01/{GTIN}/21/{encoded}"
    assert parse_link(link) == (GTIN, serial)


def test_plus_is_not_a_space_and_raw_subdelims_are_accepted() -> None:
    assert parse_link(f"{BASE}/01/{GTIN}/21/a+b") == (GTIN, "a+b")
    assert parse_link(f"/01/{GTIN}/21/a%2Bb") == (GTIN, "a+b")
    assert parse_link(f"/01/{GTIN}/21/(x)*,;=:!'") == (GTIN, "(x)*,;=:!'")
    assert parse_link(f"/01/{GTIN}/21/a%2fb") == (GTIN, "a/b")


@pytest.mark.parametrize(
    "gtin", ["96385074", "036000291452", "9506000134352", "09506000134352", "00000096385074"]
)
def test_short_gtin_forms_are_normalised(gtin: str) -> None:
    parsed_gtin, serial = parse_link(f"{BASE}/01/{gtin}/21/S1")
    assert parsed_gtin == gtin.zfill(14) and serial == "S1"
    assert build_link(BASE, gtin, "S1") == f"{BASE}/01/{gtin.zfill(14)}/21/S1"


def test_query_fragment_custom_path_and_qualifiers() -> None:
    assert parse_link(f"{BASE}/01/{GTIN}/21/S1?17=261231&linkType=all#top") == (GTIN, "S1")
    assert parse_link(f"/01/{GTIN}/21/S1?x=1") == (GTIN, "S1")
    assert parse_link(f"{BASE}/brand/01/shop/01/{GTIN}/21/S1") == (GTIN, "S1")
    assert parse_link(f"{BASE}/01/{GTIN}/10/LOT%2F1/21/S1") == (GTIN, "S1")
    assert parse_link(f"{BASE}/01/{GTIN}/22/V1/10/L1/21/S1") == (GTIN, "S1")
    assert parse_link(f"HTTPS://id.example.com/01/{GTIN}/21/S1") == (GTIN, "S1")


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (f"{BASE}/01/{GTIN}", "no /01/<gtin>/21/<serial>"),
        (f"{BASE}/01/{GTIN}/10/L1", "no /01/<gtin>/21/<serial>"),
        (f"{BASE}/01/{GTIN}/21/S1/", "no /01/<gtin>/21/<serial>"),
        (f"{BASE}/01/{GTIN}/21/", "1-20 characters, got 0"),
        (f"{BASE}/01/{GTIN}/21/S1/22/V", "no /01/<gtin>/21/<serial>"),
        (f"{BASE}/01/{GTIN}/10/L1/22/V1/21/S1", "order 22, 10, 21"),
        (f"{BASE}/01/{GTIN}/21/S1/21/S2", "order 22, 10, 21"),
        (f"{BASE}/01/09506000134353/21/S1", "check digit"),
        (f"{BASE}/01/1234567/21/S1", "got 7"),
        (f"{BASE}/01/{GTIN}/21/" + "x" * 21, "1-20 characters, got 21"),
        (f"{BASE}/01/{GTIN}/21/a%20b", "outside GS1 CS82"),
        (f"{BASE}/01/{GTIN}/21/a%23b", "outside GS1 CS82"),
        (f"{BASE}/01/{GTIN}/21/a%C3%A9", "non-ASCII"),
        (f"{BASE}/01/{GTIN}/21/a%2", "does not allow"),
        (f"{BASE}/01/{GTIN}/21/a%zzb", "does not allow"),
        (f'{BASE}/01/{GTIN}/21/a"b', "does not allow"),
        (f"{BASE}/01/{GTIN}/21/a<b>", "does not allow"),
        (f"{BASE}/01/{GTIN}/21/a$b", "outside GS1 CS82"),
        (f"{BASE}/01/{GTIN}/21/a b", "whitespace"),
        (f"{BASE}/01/{GTIN}/21/a\tb", "whitespace"),
        (f"{BASE}/01/{GTIN}/21/a\x00b", "control"),
        (f"ftp://id.example.com/01/{GTIN}/21/S1", r"http\(s\) URL or a path"),
        (f"01/{GTIN}/21/S1", r"http\(s\) URL or a path"),
        ("", r"http\(s\) URL or a path"),
        ("https://[::1/01", "not a URL"),
        ("/" + "01/" * 1000, "longer than 2048"),
    ],
)
def test_parse_rejects(link: str, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        parse_link(link)


def test_parse_rejects_non_strings_and_errors_are_gs1_value_errors() -> None:
    with pytest.raises(DigitalLinkError, match="must be a string"):
        parse_link(None)  # type: ignore[arg-type]
    with pytest.raises(Gs1Error):
        parse_link("/01/x/21/y")
    with pytest.raises(ValueError):
        parse_link("/01/x/21/y")


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("id.example.com", r"http\(s\) URL or empty"),
        ("ftp://id.example.com", r"http\(s\) URL or empty"),
        ("https://id.example.com/?a=1", "query or fragment"),
        ("https://id.example.com#x", "query or fragment"),
        (None, "must be a string"),
    ],
)
def test_build_rejects_bad_base(base: Any, message: str) -> None:
    with pytest.raises(DigitalLinkError, match=message):
        build_link(base, GTIN, "S1")


def test_build_rejects_bad_gtin_and_serial() -> None:
    with pytest.raises(DigitalLinkError, match="check digit"):
        build_link(BASE, "09506000134353", "S1")
    with pytest.raises(DigitalLinkError, match="outside GS1 CS82"):
        build_link(BASE, GTIN, "S 1")
    with pytest.raises(DigitalLinkError, match="1-20 characters"):
        build_link(BASE, GTIN, "")


def test_encode_decode_value() -> None:
    assert encode_value("a/b c") == "a%2Fb%20c"
    assert decode_value("a%2Fb", "v") == "a/b"
    assert decode_value("a+b", "v") == "a+b"


@pytest.mark.parametrize(
    "path, key",
    [
        ("/01/9506000134352", GtinKey(GTIN)),
        ("/01/09506000134352/", GtinKey(GTIN)),
        ("/01/09506000134352/10/L%2F1", GtinKey(GTIN, lot="L/1")),
        ("/01/09506000134352/10/L1/21/S1/", GtinKey(GTIN, lot="L1", serial="S1")),
        ("/01/09506000134352/22/V/10/L/21/S", GtinKey(GTIN, "V", "L", "S")),
        ("/01/09506000134352/21/%2541", GtinKey(GTIN, serial="%41")),
    ],
)
def test_gtin_keys_of_resolver_paths(path: str, key: GtinKey) -> None:
    assert parse_gtin_key(path) == key
    assert key_link("", key) == path.rstrip("/").replace("/9506", "/09506")


@pytest.mark.parametrize(
    "path, reason",
    [
        ("/01/09506000134353", "check digit"),
        ("/01/", "no GTIN"),
        ("/01/09506000134352/21/S/10/L", "order"),
        ("/01/09506000134352/21/S/21/T", "twice"),
        ("/01/09506000134352/17/270531", "not a key qualifier"),
        ("/01/09506000134352/21", "every AI needs a value"),
        ("/01/09506000134352/21/a%20b", "CS82"),
        ("/01/09506000134352//", "every AI needs a value"),
        ("/00/095060001343520000", "starts with /01/"),
    ],
)
def test_what_is_no_gtin_key(path: str, reason: str) -> None:
    with pytest.raises(DigitalLinkError, match=reason):
        parse_gtin_key(path)
