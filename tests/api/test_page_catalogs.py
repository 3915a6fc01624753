"""The consumer pages' catalogs against the texts in the code: every message pybabel extracts
from the templates and Python (babel.cfg) is in every catalog, translated in every language but
the source one, with the same placeholders; no catalog keeps a message the code no longer has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from api.page_language import DEFAULT, LANGUAGES, LOCALES_DIR, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "--quiet", "extract"]
    command += ["-F", str(ROOT / "babel.cfg"), "--no-location", "-o", str(pot), "."]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    with pot.open("rb") as f:
        return read_po(f)


def _catalog(folder: str) -> Catalog:
    with (LOCALES_DIR / folder / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=folder)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}


def test_the_code_has_texts_to_translate(extracted: Catalog) -> None:
    ids = _ids(extracted)
    assert len(ids) > 100
    assert "Journey" in ids and "Check it yourself" in ids


@pytest.mark.parametrize("tag", sorted(LANGUAGES))
def test_every_catalog_has_exactly_the_code_s_messages(extracted: Catalog, tag: str) -> None:
    catalog = _catalog(LANGUAGES[tag])
    missing = _ids(extracted) - _ids(catalog)
    obsolete = (_ids(catalog) - _ids(extracted)) | {m.id for m in catalog.obsolete.values()}
    assert not missing, f"{tag}: not in the catalog (pybabel update): {sorted(map(str, missing))}"
    assert not obsolete, f"{tag}: no longer in the code: {sorted(map(str, obsolete))}"


@pytest.mark.parametrize("tag", sorted(set(LANGUAGES) - {DEFAULT}))
def test_every_message_is_translated_with_its_placeholders(tag: str) -> None:
    catalog = _catalog(LANGUAGES[tag])
    untranslated = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert not untranslated, f"{tag}: untranslated or fuzzy: {untranslated}"
    # Babel's checkers: the same %(name)s placeholders in the translation as in the message.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert not problems, problems
    assert TRANSLATIONS[tag].gettext("Journey") != "Journey"  # what the pages get is compiled
