"""A shipment's readings as a bounded series for the cold-chain chart: equal-time buckets, each
keeping its readings' extremes, so an excursion's peak survives however many readings there are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Buckets per series (each keeps at most two readings per measure it watches).
BUCKETS = 120


@dataclass(frozen=True)
class SeriesPoint:
    """One reading as the chart draws it: time, degC, and humidity %/shock mg when watched."""

    at_ms: int
    c: float
    rh: float | None = None
    g: int | None = None


Measure = Callable[[SeriesPoint], float]


def measures(humidity: bool, shock: bool) -> list[Measure]:
    """What a bucket keeps the extremes of: temperature, and humidity and shock when watched."""
    kept: list[Measure] = [lambda p: p.c]
    if humidity:
        kept.append(lambda p: p.rh if p.rh is not None else 0.0)
    if shock:
        kept.append(lambda p: float(p.g) if p.g is not None else 0.0)
    return kept


def downsample(
    points: Sequence[SeriesPoint], buckets: int, watched: Sequence[Measure]
) -> list[SeriesPoint]:
    """`points` (by time) cut to at most 2 x len(watched) per equal-time bucket: each bucket's
    lowest and highest of every watched measure, in time order."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if len(points) <= buckets * 2:
        return list(points)
    first, last = points[0].at_ms, points[-1].at_ms
    width = max(1, -(-(last - first + 1) // buckets))
    chosen: set[int] = set()
    start = 0
    while start < len(points):
        bucket = (points[start].at_ms - first) // width
        end = start
        while end < len(points) and (points[end].at_ms - first) // width == bucket:
            end += 1
        span = range(start, end)
        for measure in watched:
            chosen.add(min(span, key=lambda i: measure(points[i])))
            chosen.add(max(span, key=lambda i: measure(points[i])))
        start = end
    return [points[i] for i in sorted(chosen)]
