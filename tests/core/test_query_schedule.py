"""EPCIS query schedules: which fields default to their least value, the next run, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.epcis.query_schedule import ScheduleError, parse_schedule

NOW = datetime(2026, 12, 6, 18, 47, 12, 500, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"hour": "1", "minute": "5"}, datetime(2026, 12, 7, 1, 5, 0, tzinfo=UTC)),  # the binding's
        ({"minute": "5"}, datetime(2026, 12, 6, 19, 5, 0, tzinfo=UTC)),  # every hour at :05:00
        ({"second": "[0-59]"}, datetime(2026, 12, 6, 18, 47, 13, tzinfo=UTC)),
        ({"second": "0,30"}, datetime(2026, 12, 6, 18, 47, 30, tzinfo=UTC)),
        ({"dayOfWeek": "1"}, datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC)),  # Monday, midnight
        ({"hour": "18", "minute": "[10-12]"}, datetime(2026, 12, 7, 18, 10, tzinfo=UTC)),
        ({"month": "2", "dayOfMonth": "29", "hour": "0"}, datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_the_next_run(spec: dict[str, str], expected: datetime) -> None:
    assert parse_schedule(spec).next_after(NOW) == expected


def test_a_schedule_that_never_runs_in_the_horizon_has_no_next_run() -> None:
    assert parse_schedule({"month": "2", "dayOfMonth": "30"}).next_after(NOW) is None


@pytest.mark.parametrize(
    "spec",
    [{}, {"hour": "24"}, {"minute": "[9-3]"}, {"second": "1;2"}, {"week": "1"}, {"hour": 1}],
)
def test_what_is_not_a_schedule_is_refused(spec: dict[str, object]) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(spec)
