"""Window closing rules: full, time-cut, short after the span, gaps after the lateness."""

from __future__ import annotations

from dataclasses import dataclass

from iot_gateway.windows import WindowRule, next_window

RULE = WindowRule(max_readings=4, span_ms=60_000, lateness_ms=10_000)
T0 = 1_700_000_000_000


@dataclass(frozen=True)
class R:
    seq: int
    taken_at_ms: int


def run(seqs: list[int], step_ms: int = 1000, start: int = T0) -> list[R]:
    return [R(seq, start + i * step_ms) for i, seq in enumerate(seqs)]


def test_empty_is_open() -> None:
    assert next_window([], None, RULE, T0) == []


def test_full_contiguous_window_closes_at_once() -> None:
    candidates = run([5, 6, 7, 8, 9])
    assert [r.seq for r in next_window(candidates, 4, RULE, T0)] == [5, 6, 7, 8]
    # Without a watermark (first window) any starting seq is fine.
    assert [r.seq for r in next_window(candidates, None, RULE, T0)] == [5, 6, 7, 8]


def test_exactly_full_without_lookahead_closes() -> None:
    assert len(next_window(run([1, 2, 3, 4]), 0, RULE, T0)) == 4


def test_short_window_waits_for_span_plus_lateness() -> None:
    candidates = run([1, 2])
    closes_at = T0 + RULE.span_ms + RULE.lateness_ms
    assert next_window(candidates, 0, RULE, closes_at - 1) == []
    assert [r.seq for r in next_window(candidates, 0, RULE, closes_at)] == [1, 2]


def test_time_cut_window_closes_when_a_later_reading_exists() -> None:
    candidates = [R(1, T0), R(2, T0 + 30_000), R(3, T0 + 60_000)]
    assert [r.seq for r in next_window(candidates, 0, RULE, T0)] == [1, 2]


def test_gap_waits_for_lateness_after_newest_reading() -> None:
    candidates = run([1, 2, 4, 5, 6])  # seq 3 missing
    newest = T0 + 3 * 1000
    assert next_window(candidates, 0, RULE, newest + RULE.lateness_ms - 1) == []
    closed = next_window(candidates, 0, RULE, newest + RULE.lateness_ms)
    assert [r.seq for r in closed] == [1, 2, 4, 5]


def test_gap_after_watermark_counts_as_gap() -> None:
    candidates = run([3, 4, 5, 6])  # watermark 1: seq 2 missing
    assert next_window(candidates, 1, RULE, T0 + 3000) == []
    assert len(next_window(candidates, 1, RULE, T0 + 3000 + RULE.lateness_ms)) == 4
