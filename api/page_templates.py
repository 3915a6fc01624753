"""The consumer pages' one Jinja environment, with gettext's `_` (jinja2.ext.i18n): every text a
page shows goes through it. Until a catalog is installed per request the texts are as written."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from api.verifier_script import INTEGRITY, SCRIPT_PATH

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # as Jinja2Templates sets it
    extensions=["jinja2.ext.i18n"],
)
environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
# The item page's verifier script and the hash its tag and the CSP pin (verify_panel.html).
environment.globals["verifier_script"] = {"src": SCRIPT_PATH, "integrity": INTEGRITY}
templates = Jinja2Templates(env=environment)
