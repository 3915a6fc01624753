"""EPC URI and Digital Link canonicalisation, differential against the reference's dl_normaliser."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.epcis.digital_link import normalise

# (scheme kind, scheme, digits after the company prefix, what may follow)
_SCHEMES = [
    ("id", "sgtin", 13, "serial"),
    ("id", "sscc", 17, ""),
    ("id", "sgln", 12, "serial"),
    ("id", "grai", 12, "serial"),
    ("id", "giai", 0, "chars"),
    ("id", "gsrn", 17, ""),
    ("id", "gsrnp", 17, ""),
    ("id", "gdti", 12, "serial"),
    ("id", "cpi", 0, "cpi"),
    ("id", "sgcn", 12, "number"),
    ("id", "ginc", 0, "chars"),
    ("id", "gsin", 16, ""),
    ("id", "itip", 13, "itip"),
    ("id", "upui", 13, "serial"),
    ("id", "pgln", 12, ""),
    ("class", "lgtin", 13, "serial"),
    ("idpat", "sgtin", 13, "star"),
    ("idpat", "grai", 12, "star"),
    ("idpat", "gdti", 12, "star"),
    ("idpat", "sgcn", 12, "star"),
    ("idpat", "cpi", 0, "cpistar"),
    ("idpat", "itip", 13, "itipstar"),
    ("idpat", "upui", 13, "star"),
]
_VALID = st.sampled_from([*"AZaz09!')(*+,.:;=_-", "%21", "%2F", "%25", "%3A", "%7A"])
_ANY = st.one_of(_VALID, st.sampled_from(["%00", "/", "#", " ", "é", "%"]))
_serials = st.one_of(
    st.lists(_VALID, min_size=1, max_size=12), st.lists(_ANY, min_size=0, max_size=32)
).map("".join)


def _digit_strings(lengths: list[int]) -> st.SearchStrategy[str]:
    length = st.one_of(st.sampled_from(lengths), st.integers(0, 20))
    return length.flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))


_digits = _digit_strings([1, 5, 12])


@st.composite
def epc_uris(draw: st.DrawFn) -> str:
    """EPC URIs of every scheme, mostly well-formed, with lengths and characters sometimes off."""
    kind, scheme, total, tail = draw(st.sampled_from(_SCHEMES))
    prefix_length = draw(st.integers(5, 13))
    prefix = draw(st.text("0123456789", min_size=prefix_length, max_size=prefix_length))
    length = draw(st.one_of(st.just(max(total - prefix_length, 0)), st.integers(0, 14)))
    reference = draw(st.text("0123456789", min_size=length, max_size=length))
    serial = draw(_serials)
    tails = {
        "": "",
        "serial": "." + serial,
        "chars": serial,
        "cpi": draw(st.text("0123456789AZ-#/", min_size=1, max_size=20)) + "." + draw(_digits),
        "number": "." + draw(_digits),
        "itip": ".01.02." + serial,
        "star": ".*",
        "cpistar": draw(st.text("0123456789AZ-", min_size=1, max_size=8)) + ".*",
        "itipstar": ".01.02.*",
    }
    middle = "" if tail in ("chars", "cpi", "cpistar") else reference
    return f"urn:epc:{kind}:{scheme}:{prefix}.{middle}{tails[tail]}"


_KEYS = [
    *("01", "gtin", "8006", "itip", "8010", "cpid", "414", "gln", "417", "party", "8017"),
    *("gsrnp", "8018", "gsrn", "255", "gcn", "00", "sscc", "253", "gdti", "401", "ginc"),
    *("402", "gsin", "8003", "grai", "8004", "giai"),
]
_QUALIFIERS = ["/10/LOT1", "/21/S1", "/22/CPV", "/235/T1", "/254/X", "/8011/12", "/lot/L", "/ser/9"]


@st.composite
def digital_links(draw: st.DrawFn) -> str:
    """GS1 Digital Link URIs: custom domains, short names, qualifiers, query strings."""
    domain = draw(st.sampled_from(["id.gs1.org", "example.com", "example.com/a/b", "x.y:8080"]))
    key = draw(st.sampled_from(_KEYS))
    value = (
        draw(st.sampled_from(["0", "00", "000000"]))
        + draw(_digits)
        + draw(st.sampled_from(["", "A", "ABC", "-1"]))
    )
    qualifiers = "".join(draw(st.lists(st.sampled_from(_QUALIFIERS), max_size=3)))
    query = draw(st.sampled_from(["", "/", "?linkType=all", "#frag", "/?a=1&b=2"]))
    return f"{draw(st.sampled_from(['https', 'http']))}://{domain}/{key}/{value}{qualifiers}{query}"


@st.composite
def gtin_links(draw: st.DrawFn) -> str:
    """Well-formed GTIN-keyed links: GTIN-8/12/13/14, optional CPV, lot and serial, any domain."""
    domain = draw(st.sampled_from(["https://id.gs1.org", "https://example.com/x", "http://a.b"]))
    key = draw(st.sampled_from(["01", "gtin", "8006"]))
    digits = draw(_digit_strings([8, 12, 13, 14, 18]))
    path = ""
    for qualifier in ("22", "10", "21"):
        if draw(st.booleans()):
            path += f"/{qualifier}/" + draw(st.text("ABC123-._", min_size=1, max_size=8))
    return f"{domain}/{key}/{digits}{path}" + draw(st.sampled_from(["", "/", "?q=1"]))


def _reference(uri: str) -> str | None:
    from epcis_event_hash_generator.dl_normaliser import normaliser

    result: str | None = normaliser(uri)
    return result


@settings(max_examples=150, deadline=None)
@given(epc_uris())
@example("urn:epc:id:sgtin:0614141.107346.2017")
@example("urn:epc:id:sgln:0614141.07346.0")
@example("urn:epc:id:sgln:0614141.07346.1234")
@example("urn:epc:id:sscc:0614141.1234567890")
@example("urn:epc:id:grai:0614141.12345.400")
@example("urn:epc:id:giai:4000001.111")
@example("urn:epc:id:cpi:0614141.123ABC.123456789")
@example("urn:epc:class:lgtin:4012345.012345.998877")
@example("urn:epc:idpat:sgtin:4012345.098765.*")
@example("urn:epc:id:itip:4012345.011111.01.02.987")
@example("urn:epc:id:sgtin:0614141.107346.%21bc")
def test_epc_uris_match_reference(uri: str) -> None:
    assert normalise(uri) == _reference(uri)


@settings(max_examples=150, deadline=None)
@given(st.one_of(digital_links(), gtin_links()))
@example("https://example.com/01/09520123456788/10/LOT1/21/S1?linkType=all")
@example("https://id.gs1.org/gtin/9520123456788/cpv/A/ser/9")
@example("https://id.gs1.org/01/9520123456788/22/2A")
@example("https://example.org/gln/4012345000023?x=1")
@example("http://example.com/00/106141412345678908")
def test_digital_links_match_reference(uri: str) -> None:
    assert normalise(uri) == _reference(uri)


@settings(deadline=None)
@given(st.text(max_size=60))
@example("")
@example("no dot here")
@example("urn:epc:id:sgtin:")
def test_any_text_matches_reference(text: str) -> None:
    assert normalise(text) == _reference(text)
