"""SLA excursion minutes: pinned edge cases of each rule and Hypothesis properties."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.eip712 import Reading, Terms
from core.errors import SlaError
from core.sla import Episode, SlaPolicy, SlaReading, excursion_minutes

M = 60_000  # ms per minute
POLICY = SlaPolicy(min_centi_c=200, max_centi_c=800, grace_minutes=15, max_gap_minutes=30)
ADDR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def series(temps: list[int], step_ms: int = M, first_seq: int = 0, t0: int = 0) -> list[SlaReading]:
    return [SlaReading(first_seq + i, t0 + i * step_ms, t) for i, t in enumerate(temps)]


def test_empty_without_window_counts_nothing() -> None:
    report = excursion_minutes([], POLICY)
    assert (report.total_minutes, report.episodes, report.readings_used) == (0, (), 0)
    assert excursion_minutes([], POLICY, start_ms=5).total_minutes == 0


def test_empty_window_counts_whole_window() -> None:
    report = excursion_minutes([], POLICY, start_ms=0, end_ms=10 * M)
    assert report.total_minutes == 10
    assert report.episodes == (Episode("gap", 0, 10 * M, 10 * M, 10 * M),)
    assert excursion_minutes([], POLICY, start_ms=7, end_ms=7).total_minutes == 0


def test_single_reading() -> None:
    assert excursion_minutes([SlaReading(1, 5 * M, 500)], POLICY).total_minutes == 0
    hot = excursion_minutes([SlaReading(1, 5 * M, 900)], POLICY)
    assert hot.total_minutes == 0
    assert hot.episodes == (Episode("temperature", 5 * M, 5 * M, 0, 0, 900),)
    # Window [0, 100 min], reading at 50: lead-in 50 and tail 50, each beyond max_gap 30 by 20.
    in_band = excursion_minutes([SlaReading(1, 50 * M, 500)], POLICY, 0, 100 * M)
    assert in_band.total_minutes == 40
    assert [e.kind for e in in_band.episodes] == ["gap", "gap"]
    # Out of band it holds for max_gap (30 min) of the tail: 30 - grace 15 = 15 more.
    assert excursion_minutes([SlaReading(1, 50 * M, 900)], POLICY, 0, 100 * M).total_minutes == 55


def test_band_edges_are_inside() -> None:
    assert excursion_minutes(series([200, 800, 200, 800] * 10), POLICY).total_minutes == 0
    # One centi-degree above max for 20 minutes: 20 - 15 grace = 5.
    report = excursion_minutes(series([500] + [801] * 20 + [500]), POLICY)
    assert report.total_minutes == 5
    (episode,) = report.episodes
    assert (episode.start_ms, episode.end_ms, episode.duration_ms) == (M, 21 * M, 20 * M)
    assert excursion_minutes(series([500] + [199] * 20 + [500]), POLICY).total_minutes == 5


def test_grace_exactly_and_one_ms_beyond() -> None:
    exactly = [SlaReading(0, 0, 900), SlaReading(1, 15 * M, 500)]
    assert excursion_minutes(exactly, POLICY).total_minutes == 0
    beyond = [SlaReading(0, 0, 900), SlaReading(1, 15 * M + 1, 500)]
    report = excursion_minutes(beyond, POLICY)
    assert (report.counted_ms, report.total_minutes) == (1, 1)


def test_gap_exactly_max_and_one_ms_beyond() -> None:
    assert (
        excursion_minutes([SlaReading(0, 0, 500), SlaReading(1, 30 * M, 500)], POLICY).total_minutes
        == 0
    )
    report = excursion_minutes([SlaReading(0, 0, 500), SlaReading(1, 30 * M + 1, 500)], POLICY)
    assert report.total_minutes == 1
    assert report.episodes == (Episode("gap", 0, 30 * M + 1, 30 * M + 1, 1),)
    # Lead-in and tail follow the same rule.
    assert excursion_minutes([SlaReading(0, 30 * M, 500)], POLICY, 0, 60 * M).total_minutes == 0
    assert excursion_minutes([SlaReading(0, 30 * M, 500)], POLICY, 0, 60 * M + 1).total_minutes == 1


def test_missing_seqs_count_at_the_sampling_interval() -> None:
    readings = [*series([500] * 4), SlaReading(6, 6 * M, 500), SlaReading(7, 7 * M, 500)]
    report = excursion_minutes(readings, POLICY)
    assert (report.total_minutes, report.missing_seqs, report.sampling_interval_ms) == (2, 2, M)
    assert report.episodes == (Episode("missing", 3 * M, 6 * M, 2 * M, 2 * M, missing_seqs=2),)


def test_missing_seqs_already_covered_by_a_gap() -> None:
    readings = [*series([500] * 4), SlaReading(6, 43 * M, 500)]
    report = excursion_minutes(readings, POLICY)
    assert (report.total_minutes, report.missing_seqs) == (10, 2)
    assert [e.kind for e in report.episodes] == ["gap"]


def test_missing_seqs_beyond_the_gap_add_the_difference() -> None:
    policy = SlaPolicy(200, 800, 15, max_gap_minutes=5)
    readings = [*series([500] * 4), SlaReading(13, 15 * M, 500)]  # 9 missing over 12 minutes
    report = excursion_minutes(readings, policy)
    assert report.counted_ms_by_kind() == {"temperature": 0, "gap": 7 * M, "missing": 2 * M}
    assert report.total_minutes == 9


def test_missing_seqs_shorten_the_held_temperature() -> None:
    # Seq 3 is hot; seqs 4-5 are missing so it holds 1 minute, not 3.
    readings = [*series([500, 500, 500, 900]), SlaReading(6, 6 * M, 500)]
    report = excursion_minutes(readings, SlaPolicy(200, 800, 0, 30))
    assert report.counted_ms_by_kind() == {"temperature": M, "gap": 0, "missing": 2 * M}


def test_missing_seqs_out_of_time_order_go_to_the_span_after_their_predecessor() -> None:
    readings = [
        SlaReading(10, 0, 500),
        SlaReading(11, M, 500),
        SlaReading(1, 2 * M, 500),
        SlaReading(2, 3 * M, 500),
    ]
    assert excursion_minutes(readings, POLICY).total_minutes == 0  # no tail to hold them
    report = excursion_minutes(readings, POLICY, end_ms=23 * M)
    assert (report.missing_seqs, report.total_minutes) == (7, 7)


def test_unsorted_input_gives_the_same_report() -> None:
    readings = series([500, 900, 900, 950, 100, 500, 500] * 5, step_ms=7 * M)
    shuffled = readings[:]
    random.Random(4).shuffle(shuffled)
    assert excursion_minutes(shuffled, POLICY, 0, 300 * M) == excursion_minutes(
        readings, POLICY, 0, 300 * M
    )


def test_duplicates_collapse() -> None:
    readings = series([500, 900, 500])
    assert excursion_minutes(readings + readings[::-1], POLICY) == excursion_minutes(
        readings, POLICY
    )
    # Conflicting copies of seq 1 at the same time: the one farthest out of band wins.
    conflict = [*readings, SlaReading(1, M, 700), SlaReading(1, M, 1200)]
    (episode,) = excursion_minutes(conflict, POLICY).episodes
    assert episode.peak_centi_c == 1200
    # A later copy of a seq is ignored, the earliest one kept.
    late = [*series([500, 500, 500]), SlaReading(1, 90 * M, 2000)]
    assert excursion_minutes(late, POLICY) == excursion_minutes(series([500, 500, 500]), POLICY)


def test_negative_temperatures_and_peak() -> None:
    frozen = SlaPolicy(min_centi_c=-2500, max_centi_c=-1800, grace_minutes=0, max_gap_minutes=30)
    readings = series([-2000, -1700, -2700, -2600, -2000])
    report = excursion_minutes(readings, frozen)
    (episode,) = report.episodes
    assert (episode.peak_centi_c, episode.duration_ms, report.total_minutes) == (-2700, 3 * M, 3)
    assert excursion_minutes(series([-2500, -1800]), frozen).total_minutes == 0


def test_minutes_round_up_once_at_the_end() -> None:
    policy = SlaPolicy(200, 800, 0, 30)
    readings = [
        SlaReading(0, 0, 900),
        SlaReading(1, 30_000, 500),
        SlaReading(2, 10 * M, 900),
        SlaReading(3, 10 * M + 30_000, 500),
    ]
    report = excursion_minutes(readings, policy)
    assert [e.counted_minutes for e in report.episodes] == [1, 1]
    assert (report.counted_ms, report.total_minutes) == (M, 1)


def test_readings_outside_the_window_are_ignored() -> None:
    readings = [SlaReading(0, 0, 3000), *series([500] * 5, first_seq=1, t0=10 * M)]
    report = excursion_minutes(readings, POLICY, start_ms=10 * M)
    assert (report.total_minutes, report.readings_used, report.missing_seqs) == (0, 5, 0)
    assert excursion_minutes(readings, POLICY, end_ms=5 * M).readings_used == 1


def test_silence_does_not_end_an_episode() -> None:
    policy = SlaPolicy(200, 800, grace_minutes=20, max_gap_minutes=10)
    # Hot, 40 minutes of silence, still hot for 10 more: held 10 + 10 = 20 = grace; gap 30.
    readings = [SlaReading(0, 0, 900), SlaReading(1, 40 * M, 900), SlaReading(2, 50 * M, 500)]
    report = excursion_minutes(readings, policy)
    assert report.counted_ms_by_kind() == {"temperature": 0, "gap": 30 * M, "missing": 0}
    (temperature,) = [e for e in report.episodes if e.kind == "temperature"]
    assert (temperature.start_ms, temperature.end_ms, temperature.duration_ms) == (
        0,
        50 * M,
        20 * M,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_ms": 10, "end_ms": 9}, "after end_ms"),
        ({"start_ms": -1}, r"start_ms must be uint64"),
        ({"end_ms": 1.5}, "got float"),
    ],
)
def test_bad_window(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SlaError, match=message):
        excursion_minutes([], POLICY, **kwargs)


def test_bad_inputs() -> None:
    with pytest.raises(SlaError, match="band is empty"):
        SlaPolicy(801, 800, 0, 0)
    with pytest.raises(SlaError, match=r"grace_minutes must be uint32"):
        SlaPolicy(0, 1, -1, 0)
    with pytest.raises(SlaError, match="got float"):
        SlaReading(1.0, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(SlaError, match="got bool"):
        SlaReading(1, 0, True)
    with pytest.raises(SlaError, match="int32"):
        SlaReading(1, 0, 2**31)
    with pytest.raises(SlaError, match=r"readings\[1\] must be an SlaReading"):
        excursion_minutes([SlaReading(1, 0, 0), (2, 0, 0)], POLICY)  # type: ignore[list-item]
    with pytest.raises(SlaError, match="sequence of SlaReading"):
        excursion_minutes("abc", POLICY)  # type: ignore[arg-type]
    with pytest.raises(SlaError, match="must be an SlaPolicy"):
        excursion_minutes([], (0, 1, 0, 0))  # type: ignore[arg-type]


def test_from_terms_and_from_reading() -> None:
    terms = Terms(b"\x01" * 32, ADDR, ADDR, ADDR, 1, -100, 400, 5, 10, 100, 20, 1, 1, 1, ADDR, 1)
    assert SlaPolicy.from_terms(terms) == SlaPolicy(-100, 400, 5, 20)
    reading = Reading(ADDR, 3, 1_700_000_000_000, -150, 0, 0, 0, 0)
    assert SlaReading.from_reading(reading) == SlaReading(3, 1_700_000_000_000, -150)


# --- properties -------------------------------------------------------------------------

policies = st.builds(
    SlaPolicy,
    st.integers(-500, 500),
    st.integers(500, 1500),
    st.integers(0, 30),
    st.integers(0, 60),
)
raw_readings = st.lists(
    st.builds(SlaReading, st.integers(0, 40), st.integers(0, 300 * M), st.integers(-1000, 3000)),
    max_size=40,
)
windows = st.tuples(st.none() | st.integers(0, 100 * M), st.none() | st.integers(200 * M, 400 * M))


def _total_ms(
    readings: list[SlaReading], policy: SlaPolicy, window: tuple[int | None, int | None]
) -> int:
    return excursion_minutes(readings, policy, *window).counted_ms


@settings(max_examples=300)
@given(raw_readings, policies, windows, st.randoms(use_true_random=False))
def test_report_is_deterministic_and_bounded(
    readings: list[SlaReading],
    policy: SlaPolicy,
    window: tuple[int | None, int | None],
    rnd: random.Random,
) -> None:
    report = excursion_minutes(readings, policy, *window)
    shuffled = readings[:]
    rnd.shuffle(shuffled)
    assert excursion_minutes(shuffled, policy, *window) == report
    assert report.counted_ms == sum(e.counted_ms for e in report.episodes)
    assert report.total_minutes == -(-report.counted_ms // M)
    assert all(e.counted_ms >= 0 and e.start_ms <= e.end_ms for e in report.episodes)
    if report.window_start_ms is not None and report.window_end_ms is not None:
        assert report.counted_ms <= report.window_end_ms - report.window_start_ms
    else:
        assert report.counted_ms == 0


@settings(max_examples=300)
@given(raw_readings, policies, windows, st.integers(0, 39), st.integers(1, 2000))
def test_turning_a_reading_out_of_band_never_lowers_the_total(
    readings: list[SlaReading],
    policy: SlaPolicy,
    window: tuple[int | None, int | None],
    index: int,
    above: int,
) -> None:
    assume(readings)
    i = index % len(readings)
    r = readings[i]
    hotter = [
        *readings[:i],
        SlaReading(r.seq, r.taken_at_ms, min(policy.max_centi_c + above, 2**31 - 1)),
        *readings[i + 1 :],
    ]
    assert _total_ms(hotter, policy, window) >= _total_ms(readings, policy, window)


contiguous = st.lists(
    st.tuples(st.integers(0, 45 * M), st.integers(-1000, 3000)), min_size=1, max_size=40
)


def _contiguous(steps: list[tuple[int, int]]) -> list[SlaReading]:
    out, t = [], 0
    for seq, (step, temp) in enumerate(steps):
        t += step
        out.append(SlaReading(seq, t, temp))
    return out


@settings(max_examples=300)
@given(
    contiguous,
    policies,
    st.integers(0, 60 * M),
    st.integers(1, 2000),
    st.none() | st.integers(0, 60 * M),
)
def test_appending_an_out_of_band_reading_never_lowers_the_total(
    steps: list[tuple[int, int]], policy: SlaPolicy, after: int, above: int, lead_in: int | None
) -> None:
    readings = _contiguous(steps)
    last = readings[-1]
    start = None if lead_in is None else max(0, readings[0].taken_at_ms - lead_in)
    extra = SlaReading(last.seq + 1, last.taken_at_ms + after, policy.max_centi_c + above)
    before = excursion_minutes(readings, policy, start).counted_ms
    assert excursion_minutes([*readings, extra], policy, start).counted_ms >= before


@settings(max_examples=200)
@given(st.data(), policies)
def test_dense_in_band_readings_count_nothing(data: st.DataObject, policy: SlaPolicy) -> None:
    max_gap = policy.max_gap_minutes * M
    steps = data.draw(st.lists(st.integers(0, max_gap), min_size=1, max_size=40))
    temps = st.integers(policy.min_centi_c, policy.max_centi_c)
    readings = _contiguous([(s, data.draw(temps)) for s in steps])
    start = readings[0].taken_at_ms - data.draw(
        st.integers(0, min(max_gap, readings[0].taken_at_ms))
    )
    end = readings[-1].taken_at_ms + data.draw(st.integers(0, max_gap))
    report = excursion_minutes(readings, policy, start, end)
    assert (report.total_minutes, report.counted_ms) == (0, 0)


@settings(max_examples=200)
@given(raw_readings, policies, windows, st.integers(1, 30), st.integers(1, 30))
def test_more_grace_or_a_longer_max_gap_never_raises_the_total(
    readings: list[SlaReading],
    policy: SlaPolicy,
    window: tuple[int | None, int | None],
    more_grace: int,
    more_gap: int,
) -> None:
    base = _total_ms(readings, policy, window)
    graceful = SlaPolicy(
        policy.min_centi_c,
        policy.max_centi_c,
        policy.grace_minutes + more_grace,
        policy.max_gap_minutes,
    )
    patient = SlaPolicy(
        policy.min_centi_c,
        policy.max_centi_c,
        policy.grace_minutes,
        policy.max_gap_minutes + more_gap,
    )
    assert _total_ms(readings, graceful, window) <= base
    assert _total_ms(readings, patient, window) <= base
