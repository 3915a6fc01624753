"""The consumer pages' languages: Babel gettext catalogs (api/locales/<dir>/LC_MESSAGES/
messages.po) compiled in memory at import, so a fresh clone needs no build step, and the
language of a request: `?lang=` (the page's switch), else Accept-Language, else English."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from api.accept_header import weighted

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT = "en"
# BCP 47 tag (as the page writes it in <html lang> and ?lang=) -> the catalog's folder.
LANGUAGES: Mapping[str, str] = {"en": "en", "zh-Hans": "zh_Hans"}
# The language each switch link is labelled with, in that language.
NATIVE_NAMES: Mapping[str, str] = {"en": "English", "zh-Hans": "简体中文"}
# Chinese as written in mainland China and Singapore is Simplified; zh-TW, zh-HK, zh-Hant are
# not, so they fall through to the reader's next language (else English).
_ALIASES = {
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-my": "zh-Hans",
    "zh-hans-cn": "zh-Hans",
    "zh-hans-sg": "zh-Hans",
}
_TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")
MAX_LANGUAGE_RANGES = 20  # of an Accept-Language header; the rest is ignored


def _compiled(folder: str) -> Translations:
    """A catalog's .po as Translations (fuzzy entries left out, as msgfmt does)."""
    with (LOCALES_DIR / folder / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=folder)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Translations(mo, domain="messages")


TRANSLATIONS: Mapping[str, Translations] = {tag: _compiled(d) for tag, d in LANGUAGES.items()}


def preferred(accept_language: str | None) -> list[str]:
    """Accept-Language's ranges, best first (q=0 left out, a malformed q counts as 0)."""
    ranges = weighted(accept_language or "", MAX_LANGUAGE_RANGES)
    ranked = [(-q, i, tag) for i, (tag, q) in enumerate(ranges) if tag != "*" and q > 0]
    return [tag for _, _, tag in sorted(ranked)]


def viewer_languages(requested: str | None, accept_language: str | None) -> list[str]:
    """The viewer's languages, best first: `?lang=` if given, then Accept-Language's ranges
    (what the brand's content is chosen by; the page's own texts are `negotiate`'s)."""
    return ([requested] if requested else []) + preferred(accept_language)


def _simplified_or_other(tag: str) -> bool:
    return not tag.lower().startswith(_TRADITIONAL)


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """The page's language: a known `?lang=` tag, else Babel's negotiation of Accept-Language
    against the catalogs, else English."""
    if requested:
        for tag in LANGUAGES:
            if requested.lower() == tag.lower():
                return tag
    ranges = [t for t in preferred(accept_language) if _simplified_or_other(t)]
    found = negotiate_locale(ranges, list(LANGUAGES), sep="-", aliases=_ALIASES)
    return found if found is not None and found in LANGUAGES else DEFAULT
