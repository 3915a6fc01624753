"""Language tags of brand content: normalised BCP 47 tags, and which content a viewer reads.

A content tag is language[-Script][-REGION] (RFC 5646 subtags, each known to CLDR through
Babel), in canonical case: "en", "en-GB", "zh-Hans", "es-419". Viewers' tags (from
Accept-Language, hostile) are read the same way; one that is not a tag is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from babel import Locale
from babel.core import get_global

LANG_MAX_LEN = 35
# What the OpenAPI document says of a path's tag; lang_tag() also checks the subtags exist.
LANG_PATTERN = r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?$"
_TAG = re.compile(LANG_PATTERN)


class LanguageTagError(ValueError):
    """Not a language[-Script][-REGION] tag of known subtags."""


@cache
def _known() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    root = Locale("en")
    # CLDR's "unknown" codes name no language, script or region.
    return (
        frozenset(root.languages) - {"und"},
        frozenset(root.scripts) - {"Zzzz"},
        frozenset(root.territories) - {"ZZ"},
    )


def _subtags(tag: str) -> tuple[str, str | None, str | None]:
    """(language, script, region) of a tag in canonical case, or LanguageTagError."""
    if not isinstance(tag, str) or len(tag) > LANG_MAX_LEN or not _TAG.fullmatch(tag):
        raise LanguageTagError(
            f"{tag!r} is not a language tag such as en, en-GB, zh-Hans or es-419"
        )
    language, *rest = tag.split("-")
    script = next((p.title() for p in rest if len(p) == 4), None)
    region = next((p.upper() for p in rest if len(p) != 4), None)
    languages, scripts, regions = _known()
    language = language.lower()
    for value, known, what in (
        (language, languages, "language"),
        (script, scripts, "script"),
        (region, regions, "region"),
    ):
        if value is not None and value not in known:
            raise LanguageTagError(f"{tag!r}: {value!r} is not a known {what} subtag")
    return language, script, region


def lang_tag(tag: str) -> str:
    """The tag in canonical case ("ZH-hans" -> "zh-Hans"), or LanguageTagError."""
    return "-".join(p for p in _subtags(tag) if p)


@cache
def _script(language: str, script: str | None, region: str | None) -> str | None:
    """The tag's script, or the one CLDR's likely subtags give it (zh-TW -> Hant)."""
    if script is not None:
        return script
    likely = get_global("likely_subtags")
    for key in ([f"{language}_{region}"] if region else []) + [language]:
        found = likely.get(key)
        if found:
            parts = found.split("_")
            return next((p for p in parts[1:] if len(p) == 4), None)
    return None


def _parsed(tags: Iterable[str]) -> list[tuple[str, tuple[str, str | None, str | None]]]:
    parsed = []
    for tag in tags:
        try:
            parsed.append((tag, _subtags(tag)))
        except LanguageTagError:
            continue  # a viewer's odd tag ("*", "x-klingon") chooses nothing
    return parsed


def choose_lang(available: Sequence[str], wanted: Sequence[str], default: str | None) -> str | None:
    """The content language (one of `available`) for a viewer who reads `wanted` in order of
    preference; else `default` (the product's default content), else None.

    For each wanted tag in turn: the same tag; then the tag with subtags dropped from the end
    (RFC 4647 lookup: en-GB -> en); then the same language in the same script (zh-CN and
    zh-SG read zh-Hans, zh-TW does not; en-US reads en-GB), the same region first.
    """
    offered = _parsed(available)
    by_tag = {"-".join(p for p in sub if p): tag for tag, sub in offered}
    for _tag, (language, script, region) in _parsed(wanted):
        full = [p for p in (language, script, region) if p]
        for end in range(len(full), 0, -1):
            hit = by_tag.get("-".join(full[:end]))
            if hit is not None:
                return hit
        own_script = _script(language, script, region)
        kin = [
            (sub[2] != region, sub[2] is not None, tag)
            for tag, sub in offered
            if sub[0] == language and _script(*sub) == own_script
        ]
        if kin:
            return min(kin)[2]
    return default if default in available else None
