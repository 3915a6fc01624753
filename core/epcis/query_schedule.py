"""EPCIS query schedules (the binding's `schedule` of a subscription, EPCIS 1.2 section 8.2.5.3):
when a scheduled subscription runs, in UTC.

Each field (second, minute, hour, dayOfMonth, month, dayOfWeek: 1 Monday ... 7 Sunday) is a
comma-separated list of numbers and ranges `[lo-hi]`. A time matches when every field matches.
An omitted second, minute or hour below the most significant time field given is its least
value (`{"hour": "1", "minute": "5"}` runs at 01:05:00, not every second of that minute); every
other omitted field matches any value. A schedule naming no field is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

FIELDS: dict[str, tuple[int, int]] = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
_TIME_FIELDS = ("hour", "minute", "second")  # most significant first
_ELEMENT = re.compile(r"^(?:(\d{1,2})|\[(\d{1,2})-(\d{1,2})\])$")
_HORIZON_DAYS = 366 * 8  # Feb 29 on a Monday may be 28 years off: such schedules never run


class ScheduleError(ValueError):
    """A schedule that is not one (the message names the field)."""


@dataclass(frozen=True)
class Schedule:
    """The values each field matches."""

    second: frozenset[int]
    minute: frozenset[int]
    hour: frozenset[int]
    day_of_month: frozenset[int]
    month: frozenset[int]
    day_of_week: frozenset[int]

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching whole second after `moment` (aware, UTC); None if none within
        the horizon."""
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        for offset in range(_HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if not (
                current.month in self.month
                and current.day in self.day_of_month
                and current.isoweekday() in self.day_of_week
            ):
                continue
            for hour in sorted(self.hour):
                for minute in sorted(self.minute):
                    for second in sorted(self.second):
                        candidate = current.replace(hour=hour, minute=minute, second=second)
                        if candidate >= start:
                            return candidate
        return None


def _values(name: str, text: object) -> frozenset[int]:
    low, high = FIELDS[name]
    if not isinstance(text, str) or not text or len(text) > 200:
        raise ScheduleError(f"{name}: a list of numbers and [lo-hi] ranges, as a string")
    out: set[int] = set()
    for element in text.split(","):
        found = _ELEMENT.match(element.strip())
        if found is None:
            raise ScheduleError(f"{name}: {element!r} is not a number or a [lo-hi] range")
        single, first, last = found.groups()
        lo, hi = (int(single), int(single)) if single is not None else (int(first), int(last))
        if not low <= lo <= hi <= high:
            raise ScheduleError(f"{name}: {element!r} is outside {low}-{high} (or reversed)")
        out.update(range(lo, hi + 1))
    return frozenset(out)


def parse_schedule(spec: Mapping[str, object]) -> Schedule:
    """The schedule of a subscription's `schedule` object; ScheduleError if it is not one."""
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise ScheduleError(f"{unknown[0]}: not a schedule field ({', '.join(FIELDS)})")
    if not spec:
        raise ScheduleError("a schedule names at least one field")
    given = {name: _values(name, value) for name, value in spec.items()}
    top = next((i for i, name in enumerate(_TIME_FIELDS) if name in given), len(_TIME_FIELDS))
    values: dict[str, frozenset[int]] = {}
    for name, (low, high) in FIELDS.items():
        if name in given:
            values[name] = given[name]
        elif name in _TIME_FIELDS and _TIME_FIELDS.index(name) > top:
            values[name] = frozenset({low})
        elif name in _TIME_FIELDS and top == len(_TIME_FIELDS):
            values[name] = frozenset({low})  # only day fields given: at midnight
        else:
            values[name] = frozenset(range(low, high + 1))
    return Schedule(
        values["second"],
        values["minute"],
        values["hour"],
        values["dayOfMonth"],
        values["month"],
        values["dayOfWeek"],
    )
