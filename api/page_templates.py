"""The consumer pages' one Jinja environment, with gettext's `_` (jinja2.ext.i18n, newstyle):
every text a page shows goes through it. Each request's language (api/page_language.py) comes
with its own gettext callables in the template context, never installed on the shared
environment, so concurrent requests in different languages cannot see each other's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from babel.support import Translations
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request

from api.cold_chain_chart import render_chart
from api.page_language import LANGUAGES, NATIVE_NAMES, TRANSLATIONS, negotiate
from api.page_times import LOCAL_TIME_SCRIPT, parse_time, time_element, utc_text
from api.verifier_script import INTEGRITY, SCRIPT_PATH

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # as Jinja2Templates sets it
    extensions=["jinja2.ext.i18n"],
)
# Only what a template rendered outside a request would use; pages get their request's own.
environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
environment.globals["local_time_script"] = Markup(LOCAL_TIME_SCRIPT)
# The item page's verifier script and the hash its tag and the CSP pin (verify_panel.html).
environment.globals["verifier_script"] = {"src": SCRIPT_PATH, "integrity": INTEGRITY}


def _newstyle(translations: Translations) -> dict[str, Callable[..., str]]:
    """gettext and ngettext as jinja2.ext.i18n's newstyle calls them: %(name)s filled from
    keyword arguments, the result escaped like any other value of an autoescaped template."""

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        text = translations.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = translations.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def language_links(request: Request, current: str) -> list[dict[str, Any]]:
    """The switch: this page in every language (its other query parameters kept)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [
        {
            "tag": tag,
            "name": NATIVE_NAMES[tag],
            "href": "?" + urlencode([*kept, ("lang", tag)]),
            "current": tag == current,
        }
        for tag in LANGUAGES
    ]


def page_language(request: Request) -> dict[str, Any]:
    """The request's language and everything a template needs to write in it."""
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
    translations = TRANSLATIONS[lang]
    babel_locale = LANGUAGES[lang]
    return {
        **_newstyle(translations),
        "lang": lang,
        "language_links": language_links(request, lang),
        # A time as <time> in UTC (the page's script shows it in the viewer's zone).
        "when": lambda value: time_element(value, babel_locale),
        "on_day": lambda value: _day(value, babel_locale),
        # Plain texts for code that renders markup itself (e.g. a chart): gettext and a time.
        "plain_gettext": translations.gettext,
        "format_time": lambda value: _plain_time(value, babel_locale),
        # A cold chain leg's SVG chart (api/cold_chain_chart.py), worded in the page's language.
        "chart": lambda leg: render_chart(
            leg, translations.gettext, lambda moment: _plain_time(moment, babel_locale)
        ),
    }


def _day(value: str, babel_locale: str) -> Markup:
    """A calendar day (an expiry) as the page's language writes it, in <time> (no zone: the
    page's script leaves it alone); as given if unreadable."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return Markup("{}").format(value)
    text = format_date(day, "medium", locale=babel_locale)
    return Markup('<time datetime="{}">{}</time>').format(day.isoformat(), text)


def _plain_time(value: Any, babel_locale: str) -> str:
    moment = parse_time(value)
    return "" if moment is None else utc_text(moment, babel_locale)


templates = Jinja2Templates(env=environment, context_processors=[page_language])
