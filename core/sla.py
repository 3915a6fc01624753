"""SLA excursion minutes: the one pure function behind the gateway's display and the payout.

Rules (DESIGN "Delivery and settlement rules"); all arithmetic is in integer milliseconds:

1. Window: readings taken outside [start_ms, end_ms] are ignored. Without start_ms the window
   opens at the first reading, without end_ms it closes at the last.
2. Duplicates: one reading per seq. Of readings sharing a seq the earliest is kept, then the
   one farthest outside the band, then the coldest, so input order never matters.
3. Spans: readings are sorted by (taken_at_ms, seq). Reading i's span runs to the next reading
   (the last one's to end_ms). The lead-in from start_ms to the first reading has no reading.
4. Gaps: of a span longer than max_gap, (span - max_gap) counts as a "gap" episode. A gap of
   exactly max_gap counts nothing.
5. Missing seqs: each seq absent between the lowest and highest present seq belongs to the span
   after the present reading with the next lower seq. For k missing seqs a span's estimate is
   min(span, k * interval), interval being the lower median of the non-zero spans between
   time-adjacent readings with consecutive seqs (else the mean spacing over the seq range).
   The part of the estimate not already counted as gap counts as a "missing" episode.
6. Temperature: a reading's temperature holds (step function) over the known part of its span,
   the span minus its gap and missing parts. Bounds are inclusive (a reading at min or max is in
   the band). A "temperature" episode is a maximal run of out-of-band readings: silence does not
   end it (nor add to it), an in-band reading does. It counts max(0, duration - grace).
7. No readings at all in a window with both bounds: the whole window counts as one gap.
8. total_minutes = ceil(sum of counted ms / 60,000), rounded once at the end.

So every millisecond of the window is counted at most once and the total never exceeds the
window. Monotone: turning a reading out of band, or appending a later out-of-band reading
(open window, no missing seqs), never lowers the total. New evidence inside a silence can
lower it: a reading replaces unknown time (always counted) with known time (subject to grace).
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections.abc import Sequence
from typing import Literal

from core.abi_values import check_int
from core.eip712 import Reading, Terms
from core.errors import SlaError

MS_PER_MINUTE = 60_000
EpisodeKind = Literal["temperature", "gap", "missing"]


@dataclasses.dataclass(frozen=True)
class SlaReading:
    """The part of a signed reading the SLA looks at."""

    seq: int
    taken_at_ms: int
    temperature_centi_c: int

    def __post_init__(self) -> None:
        check_int(self.seq, "uint64", "SlaReading.seq", SlaError)
        check_int(self.taken_at_ms, "uint64", "SlaReading.taken_at_ms", SlaError)
        check_int(self.temperature_centi_c, "int32", "SlaReading.temperature_centi_c", SlaError)

    @classmethod
    def from_reading(cls, reading: Reading) -> SlaReading:
        """From a verified EIP-712 Reading."""
        return cls(reading.seq, reading.taken_at_ms, reading.temperature_centi_c)


@dataclasses.dataclass(frozen=True)
class SlaPolicy:
    """Band [min, max] in 0.01 degC (inclusive), grace and maximum data gap in minutes."""

    min_centi_c: int
    max_centi_c: int
    grace_minutes: int
    max_gap_minutes: int

    def __post_init__(self) -> None:
        check_int(self.min_centi_c, "int32", "SlaPolicy.min_centi_c", SlaError)
        check_int(self.max_centi_c, "int32", "SlaPolicy.max_centi_c", SlaError)
        check_int(self.grace_minutes, "uint32", "SlaPolicy.grace_minutes", SlaError)
        check_int(self.max_gap_minutes, "uint32", "SlaPolicy.max_gap_minutes", SlaError)
        if self.min_centi_c > self.max_centi_c:
            raise SlaError(
                f"SlaPolicy band is empty: min {self.min_centi_c} > max {self.max_centi_c}"
            )

    @classmethod
    def from_terms(cls, terms: Terms) -> SlaPolicy:
        """The policy part of signed escrow Terms."""
        return cls(
            terms.min_temp_centi_c,
            terms.max_temp_centi_c,
            terms.grace_minutes,
            terms.max_gap_minutes,
        )

    def deviation(self, centi_c: int) -> int:
        """How far outside the band a temperature is (0 inside, bounds inclusive)."""
        return max(self.min_centi_c - centi_c, centi_c - self.max_centi_c, 0)


@dataclasses.dataclass(frozen=True)
class Episode:
    """One stretch that counts (or, for temperature, might count) against the SLA."""

    kind: EpisodeKind
    start_ms: int
    end_ms: int
    duration_ms: int  # temperature: out-of-band time; gap: the span; missing: the estimate
    counted_ms: int
    peak_centi_c: int | None = None  # temperature episodes: the reading farthest out of band
    missing_seqs: int = 0

    @property
    def counted_minutes(self) -> int:
        """counted_ms rounded up, for display (the total rounds the sum, not these)."""
        return -(-self.counted_ms // MS_PER_MINUTE)


@dataclasses.dataclass(frozen=True)
class ExcursionReport:
    """The result: total minutes for the attestation, and the episodes behind it."""

    total_minutes: int
    counted_ms: int
    episodes: tuple[Episode, ...]
    window_start_ms: int | None
    window_end_ms: int | None
    readings_used: int
    missing_seqs: int
    sampling_interval_ms: int | None

    def counted_ms_by_kind(self) -> dict[str, int]:
        """Counted milliseconds per episode kind."""
        totals = {"temperature": 0, "gap": 0, "missing": 0}
        for episode in self.episodes:
            totals[episode.kind] += episode.counted_ms
        return totals


def _select(
    readings: Sequence[SlaReading], policy: SlaPolicy, start: int | None, end: int | None
) -> list[SlaReading]:
    """Readings inside the window, one per seq (rule 2), sorted by (time, seq)."""
    best: dict[int, SlaReading] = {}
    for i, r in enumerate(readings):
        if not isinstance(r, SlaReading):
            raise SlaError(f"readings[{i}] must be an SlaReading, got {type(r).__name__}")
        if (start is not None and r.taken_at_ms < start) or (
            end is not None and r.taken_at_ms > end
        ):
            continue
        kept = best.get(r.seq)
        if kept is None or _dup_key(r, policy) < _dup_key(kept, policy):
            best[r.seq] = r
    return sorted(best.values(), key=lambda r: (r.taken_at_ms, r.seq))


def _dup_key(r: SlaReading, policy: SlaPolicy) -> tuple[int, int, int]:
    return (r.taken_at_ms, -policy.deviation(r.temperature_centi_c), r.temperature_centi_c)


def _sampling_interval(ordered: list[SlaReading]) -> int | None:
    """Rule 5's typical interval between consecutive seqs, in ms."""
    # Zero steps (equal timestamps) say nothing about the device's sampling rate.
    steps = [
        b.taken_at_ms - a.taken_at_ms
        for a, b in itertools.pairwise(ordered)
        if b.seq == a.seq + 1 and b.taken_at_ms > a.taken_at_ms
    ]
    if steps:
        return int(statistics.median_low(steps))
    by_seq = sorted(ordered, key=lambda r: r.seq)
    if len(by_seq) < 2:
        return None
    first, last = by_seq[0], by_seq[-1]
    return max(0, (last.taken_at_ms - first.taken_at_ms) // (last.seq - first.seq))


def _missing_after(ordered: list[SlaReading]) -> dict[int, int]:
    """seq -> number of absent seqs right above it (rule 5)."""
    seqs = sorted(r.seq for r in ordered)
    return {a: b - a - 1 for a, b in itertools.pairwise(seqs) if b - a > 1}


def excursion_minutes(
    readings: Sequence[SlaReading],
    policy: SlaPolicy,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> ExcursionReport:
    """Minutes counted against the SLA over the window (rules in the module docstring)."""
    if not isinstance(policy, SlaPolicy):
        raise SlaError(f"policy must be an SlaPolicy, got {type(policy).__name__}")
    for name, bound in (("start_ms", start_ms), ("end_ms", end_ms)):
        if bound is not None:
            check_int(bound, "uint64", name, SlaError)
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise SlaError(f"start_ms {start_ms} is after end_ms {end_ms}")
    if isinstance(readings, str | bytes) or not isinstance(readings, Sequence):
        raise SlaError(f"readings must be a sequence of SlaReading, got {type(readings).__name__}")

    ordered = _select(readings, policy, start_ms, end_ms)
    if not ordered:
        episodes: list[Episode] = []
        if start_ms is not None and end_ms is not None and end_ms > start_ms:
            span = end_ms - start_ms
            episodes.append(Episode("gap", start_ms, end_ms, span, span))
        return _report(episodes, start_ms, end_ms, 0, 0, None)

    start = ordered[0].taken_at_ms if start_ms is None else start_ms
    end = ordered[-1].taken_at_ms if end_ms is None else end_ms
    max_gap = policy.max_gap_minutes * MS_PER_MINUTE
    grace = policy.grace_minutes * MS_PER_MINUTE
    interval = _sampling_interval(ordered)
    missing_after = _missing_after(ordered)
    episodes = []

    lead_in = ordered[0].taken_at_ms - start
    if lead_in > max_gap:
        episodes.append(Episode("gap", start, ordered[0].taken_at_ms, lead_in, lead_in - max_gap))

    current: _Run | None = None
    for i, r in enumerate(ordered):
        span_start = r.taken_at_ms
        span_end = ordered[i + 1].taken_at_ms if i + 1 < len(ordered) else end
        span = span_end - span_start
        gap = max(0, span - max_gap)
        missing = missing_after.get(r.seq, 0)
        estimate = min(span, missing * (interval or 0))
        missing_ms = max(0, estimate - gap)
        held = span - gap - missing_ms
        if gap:
            episodes.append(Episode("gap", span_start, span_end, span, gap))
        if missing_ms:
            episodes.append(
                Episode("missing", span_start, span_end, estimate, missing_ms, missing_seqs=missing)
            )
        if policy.deviation(r.temperature_centi_c) == 0:
            if current is not None:
                episodes.append(current.close(grace))
                current = None
            continue
        if current is None:
            current = _Run(span_start, span_start, 0, r.temperature_centi_c)
        current.extend(r.temperature_centi_c, span_start + held, held, policy)
    if current is not None:
        episodes.append(current.close(grace))

    return _report(episodes, start, end, len(ordered), sum(missing_after.values()), interval)


@dataclasses.dataclass
class _Run:
    """An open temperature episode while walking the readings."""

    start_ms: int
    end_ms: int
    duration_ms: int
    peak_centi_c: int

    def extend(self, centi_c: int, end_ms: int, held_ms: int, policy: SlaPolicy) -> None:
        if policy.deviation(centi_c) > policy.deviation(self.peak_centi_c):
            self.peak_centi_c = centi_c
        self.end_ms = end_ms
        self.duration_ms += held_ms

    def close(self, grace_ms: int) -> Episode:
        counted = max(0, self.duration_ms - grace_ms)
        return Episode(
            "temperature", self.start_ms, self.end_ms, self.duration_ms, counted, self.peak_centi_c
        )


_KIND_ORDER = {"gap": 0, "missing": 1, "temperature": 2}


def _report(
    episodes: list[Episode],
    start: int | None,
    end: int | None,
    used: int,
    missing: int,
    interval: int | None,
) -> ExcursionReport:
    episodes.sort(key=lambda e: (e.start_ms, _KIND_ORDER[e.kind], e.end_ms))
    counted = sum(e.counted_ms for e in episodes)
    return ExcursionReport(
        total_minutes=-(-counted // MS_PER_MINUTE),
        counted_ms=counted,
        episodes=tuple(episodes),
        window_start_ms=start,
        window_end_ms=end,
        readings_used=used,
        missing_seqs=missing,
        sampling_interval_ms=interval,
    )
