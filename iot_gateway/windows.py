"""Reading windows: which stored readings form the next closed window of one device (pure logic)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


class WindowReading(Protocol):
    """The reading fields windowing needs (store.models.Reading satisfies it)."""

    @property
    def seq(self) -> int: ...

    @property
    def taken_at_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WindowRule:
    """A window closes at `max_readings`, or when its readings span `span_ms`.

    A window that is short (the device went quiet) or has a seq gap (a reading may still be on
    its way) closes only once the clock is `lateness_ms` past its natural end.
    """

    max_readings: int
    span_ms: int
    lateness_ms: int


R = TypeVar("R", bound=WindowReading)


def next_window(
    candidates: Sequence[R], after_seq: int | None, rule: WindowRule, now_ms: int
) -> list[R]:
    """The readings of the next closed window, from `candidates` (seq > after_seq, by seq).

    Pass at least max_readings + 1 candidates when there are that many: the extra one tells a
    full window from a time-cut one. Returns [] while the window is still open.
    """
    if not candidates:
        return []
    first = candidates[0]
    end_ms = first.taken_at_ms + rule.span_ms
    window: list[R] = []
    cut_by_later = False
    for reading in candidates:
        if len(window) == rule.max_readings:
            cut_by_later = True
            break
        if reading.taken_at_ms >= end_ms:
            cut_by_later = True
            break
        window.append(reading)
    full = len(window) == rule.max_readings
    contiguous, prev = True, after_seq
    for reading in window:
        if prev is not None and reading.seq != prev + 1:
            contiguous = False
            break
        prev = reading.seq
    newest = max(r.taken_at_ms for r in window)
    if full or cut_by_later:
        if contiguous or now_ms >= newest + rule.lateness_ms:
            return window
        return []
    # Short window: close once its time span plus lateness has passed.
    if now_ms >= end_ms + rule.lateness_ms:
        return window
    return []


@dataclass(frozen=True, slots=True)
class Hole:
    """Seqs lo..hi (inclusive) a recorded window passed over; `event` is that window's hash."""

    lo: int
    hi: int
    event: str


def window_gaps(after_seq: int | None, seqs: Sequence[int], event: str) -> list[Hole]:
    """The seqs a closed window skipped: after `after_seq` (from 0 for a first window), by seq."""
    gaps: list[Hole] = []
    prev = -1 if after_seq is None else after_seq
    for seq in seqs:
        if seq > prev + 1:
            gaps.append(Hole(prev + 1, seq - 1, event))
        prev = max(prev, seq)
    return gaps


def fill_holes(holes: Sequence[Hole], seqs: Iterable[int]) -> list[Hole]:
    """The holes with `seqs` filled: a range is split around each seq that arrived."""
    arrived = sorted(set(seqs))
    out: list[Hole] = []
    for hole in holes:
        lo = hole.lo
        for seq in arrived:
            if seq < lo or seq > hole.hi:
                continue
            if seq > lo:
                out.append(Hole(lo, seq - 1, hole.event))
            lo = seq + 1
        if lo <= hole.hi:
            out.append(Hole(lo, hole.hi, hole.event))
    return out


def hole_of(holes: Sequence[Hole], seq: int) -> Hole | None:
    """The hole containing `seq`, if any."""
    return next((hole for hole in holes if hole.lo <= seq <= hole.hi), None)
