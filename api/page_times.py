"""Times on the consumer pages: written by the server in UTC (`<time datetime="...Z">`, labelled
UTC), then shown in the viewer's own zone by one tiny inline script, allowed by the page's
Content-Security-Policy by its hash and nothing else; the UTC text stays on hover (title), and
without JavaScript the page still says UTC."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from babel.dates import format_date, format_skeleton
from markupsafe import Markup

# Every <time datetime="...Z"> (a moment, not a calendar day) in the viewer's zone and the
# page's language; the title keeps the UTC.
LOCAL_TIME_SCRIPT = (
    "(function(){var l=document.documentElement.lang||undefined,"
    'o={year:"numeric",month:"short",day:"numeric",hour:"2-digit",minute:"2-digit",'
    'timeZoneName:"short"};document.querySelectorAll(\'time[datetime$="Z"]\').forEach(function(t){'
    "var d=new Date(t.dateTime);if(!isNaN(d)){t.textContent="
    "new Intl.DateTimeFormat(l,o).format(d);t.dataset.zone="
    "Intl.DateTimeFormat().resolvedOptions().timeZone;}});})();"
)
LOCAL_TIME_SCRIPT_HASH = (
    "'sha256-"
    + base64.b64encode(hashlib.sha256(LOCAL_TIME_SCRIPT.encode()).digest()).decode()
    + "'"
)


def parse_time(value: str | int | float | datetime | None) -> datetime | None:
    """An ISO-8601 text (any offset, or Z), epoch milliseconds or a datetime, in UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, UTC)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_text(moment: datetime, babel_locale: str) -> str:
    """The time as the page's language writes a date and time, in UTC."""
    day = format_date(moment, "medium", locale=babel_locale)
    return f"{day} {format_skeleton('Hm', moment, tzinfo=UTC, locale=babel_locale)} UTC"


def time_element(value: str | int | float | datetime | None, babel_locale: str) -> Markup:
    """`<time datetime="...Z" title="... UTC">... UTC</time>` (nothing for an unreadable time)."""
    moment = parse_time(value)
    if moment is None:
        return Markup("")
    iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = utc_text(moment, babel_locale)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, text, text)
