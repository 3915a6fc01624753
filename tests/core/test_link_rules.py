"""What a registered link may hold: hostile hrefs, language tags, media types, link types."""

from __future__ import annotations

import pytest

from core import link_rules
from core.errors import LinkError


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "ftp://files.example/x",
        "http://brand.example/page",  # plain http outside loopback
        "//brand.example/page",  # scheme-relative
        "/01/09506000134352",  # relative
        "https://",
        "https:///path",
        "https://user:pass@brand.example/",  # credentials (phishing: user@host)
        "https://brand.example@evil.example/",
        "https://brand.example/a b",
        "https://brand.example/\r\nSet-Cookie: x=1",
        "https://brand.example/\x00",
        "https://brand.example\\@evil.example/",
        "https://bränd.example/",  # IDN must be punycode
        "https://brand.example:99999/",
        "https://brand.example/" + "a" * 1100,
        "https://[::1]/",
        "https://-brand.example/",
        "https://brand..example/",
        "HTTPS://brand.example/",
        "",
    ],
)
def test_hostile_or_unsafe_hrefs_are_refused(href: str) -> None:
    with pytest.raises(LinkError):
        link_rules.href(href)


def test_http_only_to_a_loopback_host_and_only_when_allowed() -> None:
    assert link_rules.href("https://brand.example/p?q=1#f") == "https://brand.example/p?q=1#f"
    assert link_rules.href("http://localhost:8000/p", allow_loopback_http=True)
    assert link_rules.href("http://127.0.0.1/p", allow_loopback_http=True)
    with pytest.raises(LinkError):
        link_rules.href("http://localhost:8000/p")
    with pytest.raises(LinkError):
        link_rules.href("http://brand.example/p", allow_loopback_http=True)
    with pytest.raises(LinkError):
        link_rules.href("http://[::1]/p", allow_loopback_http=True)


@pytest.mark.parametrize("value", ["Acme", " Acme ", "Café crème", "日本語"])
def test_titles(value: str) -> None:
    assert link_rules.title(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "   ", "bell\x07", "a\nb", "evil\u202egpj.exe", "zero\u200bwidth", "\ud800", "x" * 201],
)
def test_bad_titles_are_refused(value: str) -> None:
    with pytest.raises(LinkError):
        link_rules.title(value)


@pytest.mark.parametrize("tags", [["en"], ["de-CH", "fr"], ["zh-Hant-TW"], ["x-private"], []])
def test_bcp47_tags(tags: list[str]) -> None:
    assert link_rules.hreflang(tags) == tags


@pytest.mark.parametrize(
    "tags",
    [["englishes"], ["en_US"], ["e"], ["en-"], ["en", "en"], ["en"] * 11, "en", [1], ["a" * 40]],
)
def test_bad_language_tags_are_refused(tags: object) -> None:
    with pytest.raises(LinkError):
        link_rules.hreflang(tags)


@pytest.mark.parametrize(
    "value", ["text/html", "application/ld+json", 'text/html; charset="utf-8"']
)
def test_media_types(value: str) -> None:
    assert link_rules.media_type(value) == value


@pytest.mark.parametrize("value", ["html", "text/", "/html", "text/html/x", "text/html\n", "a b/c"])
def test_bad_media_types_are_refused(value: str) -> None:
    with pytest.raises(LinkError):
        link_rules.media_type(value)


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("gs1:pip", "gs1:pip"),
        ("https://gs1.org/voc/recallStatus", "gs1:recallStatus"),
        ("https://ref.gs1.org/voc/certificationInfo", "gs1:certificationInfo"),
        ("http://www.gs1.org/voc/sustainabilityInfo", "gs1:sustainabilityInfo"),
    ],
)
def test_link_types_of_the_gs1_web_vocabulary(given: str, name: str) -> None:
    assert link_rules.link_type(given) == name


@pytest.mark.parametrize(
    "value",
    ["pip", "gs1:Pip", "gs1:myOwnType", "https://evil.example/voc/pip", "gs1:", "schema:url"],
)
def test_custom_link_types_are_refused(value: str) -> None:
    with pytest.raises(LinkError):
        link_rules.link_type(value)
