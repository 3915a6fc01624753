"""Content language tags are normalised BCP 47 tags of known subtags; a viewer gets the content
of its most preferred language that has some, else the product's default."""

from __future__ import annotations

import pytest

from api.content_language import LanguageTagError, choose_lang, lang_tag


@pytest.mark.parametrize(
    ("given", "tag"),
    [
        ("en", "en"),
        ("EN-gb", "en-GB"),
        ("zh-hans", "zh-Hans"),
        ("ZH-HANT-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("fil", "fil"),
    ],
)
def test_tags_are_normalised(given: str, tag: str) -> None:
    assert lang_tag(given) == tag


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "e",
        "en_US",
        "english",
        "xx",  # no such language
        "und",
        "en-ZZ",
        "zh-Hanx",
        "en-GB-oed",
        "x-klingon",
        "*",
        "en-",
        "en-US-u-ca-buddhist",
        "<script>",
        "en" + "-Latn" * 10,
    ],
)
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(LanguageTagError):
        lang_tag(bad)


OFFERED = ["en", "en-GB", "zh-Hans"]


@pytest.mark.parametrize(
    ("wanted", "default", "chosen"),
    [
        (["en-GB"], "zh-Hans", "en-GB"),
        (["en"], "zh-Hans", "en"),
        (["en-US"], "zh-Hans", "en"),  # lookup: en-US -> en
        (["zh-CN"], "en", "zh-Hans"),  # CN is written in Hans
        (["zh"], "en", "zh-Hans"),
        (["zh-SG", "en"], "en", "zh-Hans"),
        (["zh-TW"], "en", "en"),  # Traditional readers do not get Simplified: the default
        (["zh-TW", "zh-CN"], "en", "zh-Hans"),
        (["fr-CA", "de"], "zh-Hans", "zh-Hans"),
        (["fr"], None, None),
        ([], "en", "en"),
        (["*", "x-pig-latin", "en_US"], "zh-Hans", "zh-Hans"),  # odd tags choose nothing
    ],
)
def test_the_viewers_first_language_with_content_wins(
    wanted: list[str], default: str | None, chosen: str | None
) -> None:
    assert choose_lang(OFFERED, wanted, default) == chosen


def test_same_script_kin_prefer_the_same_region() -> None:
    offered = ["en-AU", "en-GB", "zh-Hans"]
    assert choose_lang(offered, ["en-GB"], None) == "en-GB"
    assert choose_lang(offered, ["en-NZ"], None) == "en-AU"  # kin, no region match: first by tag
    assert choose_lang(["en-GB", "en"], ["en-US"], None) == "en"  # lookup before kin
    assert choose_lang(["de-CH"], ["de-DE"], None) == "de-CH"
    assert choose_lang(["sr-Latn"], ["sr"], "sr-Latn") == "sr-Latn"  # only as the default
    assert choose_lang(["sr-Latn", "en"], ["sr"], "en") == "en"  # sr is written in Cyrillic
