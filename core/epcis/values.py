"""Canonical forms of single values in the pre-hash string: vocabulary, numbers, ids, times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from core.epcis.cbv import URN_TO_WEB_VOCABULARY
from core.epcis.digital_link import normalise
from core.epcis.errors import EpcisError

_TIMESTAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<off_h>\d{2})(?::?(?P<off_m>\d{2}))?)?",
    re.ASCII,
)


def web_vocabulary(text: str) -> str:
    """Replace CBV 1.x URN prefixes (anywhere in the value) by CBV 2.0 web-vocabulary URIs."""
    for urn, web in URN_TO_WEB_VOCABULARY:
        text = text.replace(urn, web)
    return text


def numeric(text: str) -> str:
    """A number without trailing zeros or '+' sign ('1.0' -> '1'); other text unchanged.

    Python's float() decides what is a number, as in the reference ('1_0', '1e3' are numbers).
    Infinities stay as written: the reference crashes on them, NaN it leaves unchanged.
    """
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text
    if int(number) == number:
        return str(int(number))
    return str(number)


def canonical_value(text: str) -> str:
    """The canonical form of a (stripped) value: web vocabulary, number, Digital Link URI."""
    text = numeric(web_vocabulary(text))
    return normalise(text) or text


def timestamp(text: str) -> str:
    """An ISO 8601 date-time as UTC with milliseconds ('...31.116000-06:00' -> '...31.116Z').

    Sub-millisecond digits are rounded half-to-even on the microsecond, as the reference does
    (the README's rule says half-up; they differ only on an exact ...5 tie); a carry into the next
    second is kept, where the reference raises. A time without a UTC offset has no defined instant
    (the reference would use the machine's time zone), so it is refused, as is any non-ISO text.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise EpcisError(f"not an ISO 8601 date-time: {text!r}")
    if match["utc"] is None and match["sign"] is None:
        raise EpcisError(f"date-time without a UTC offset: {text!r}")
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    try:
        offset = timedelta(hours=int(match["off_h"] or 0), minutes=int(match["off_m"] or 0))
        zone = timezone(-offset if match["sign"] == "-" else offset)
        year, month, day = (int(part) for part in match["date"].split("-"))
        moment = datetime(
            year,
            month,
            day,
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            tzinfo=zone,
        )
        microsecond = round(int(fraction), -3)
        moment = moment.replace(microsecond=0) + timedelta(microseconds=microsecond)
        utc = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise EpcisError(f"date-time out of range: {text!r}") from exc
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"
