"""core.geo: haversine against an independent reference, the fence rule, properties.

The reference is Vincenty's special case for the sphere,
    dsigma = atan2(sqrt((cos p2 sin dl)^2 + (cos p1 sin p2 - sin p1 cos p2 cos dl)^2),
                   sin p1 sin p2 + cos p1 cos p2 cos dl),
evaluated in 60-digit `decimal` arithmetic with series for sin, cos and atan written here, so it
shares neither the formula nor the floating point of core.geo. The pinned metres below are its
output on R = 6,371,008.8 m, rounded to a micrometre.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.geo import (
    EARTH_RADIUS_M,
    FENCE_TOLERANCE_M,
    Fence,
    GeoError,
    haversine_m,
    inside_fence,
)

PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


def _sin(x: Decimal) -> Decimal:
    term, total, n = x, x, 1
    while abs(term) > Decimal("1e-70"):
        term = -term * x * x / ((2 * n) * (2 * n + 1))
        total += term
        n += 1
    return total


def _cos(x: Decimal) -> Decimal:
    return _sin(PI / 2 - x)


def _atan(x: Decimal) -> Decimal:
    if x < 0:
        return -_atan(-x)
    if x > 1:
        return PI / 2 - _atan(1 / x)
    doublings = 0
    while x > Decimal("0.1"):  # atan(x) = 2 atan(x / (1 + sqrt(1 + x^2)))
        x = x / (1 + (1 + x * x).sqrt())
        doublings += 1
    term, total, n = x, x, 0
    while abs(term) > Decimal("1e-70"):
        n += 1
        term = -term * x * x
        total += term / (2 * n + 1)
    return total * 2**doublings


def _atan2(y: Decimal, x: Decimal) -> Decimal:
    assert y >= 0
    if x > 0:
        return _atan(y / x)
    if x == 0:
        return PI / 2
    return PI - _atan(y / -x)


def reference_m(lat1_e7: int, lon1_e7: int, lat2_e7: int, lon2_e7: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        rad = PI / 180 / 10**7
        p1, p2 = lat1_e7 * rad, lat2_e7 * rad
        dl = (lon2_e7 - lon1_e7) * rad
        a = _cos(p2) * _sin(dl)
        b = _cos(p1) * _sin(p2) - _sin(p1) * _cos(p2) * _cos(dl)
        c = _sin(p1) * _sin(p2) + _cos(p1) * _cos(p2) * _cos(dl)
        return Decimal(str(EARTH_RADIUS_M)) * _atan2((a * a + b * b).sqrt(), c)


LONDON = (515_073_500, -1_278_000)  # Charing Cross
PARIS = (488_566_000, 23_522_000)  # Notre-Dame
NEW_YORK = (407_128_000, -740_060_000)
LOS_ANGELES = (340_522_000, -1_182_437_000)
SYDNEY = (-338_688_000, 1_512_093_000)

PINNED = [
    (LONDON, PARIS, Decimal("343551.814019")),
    (NEW_YORK, LOS_ANGELES, Decimal("3935751.690894")),
    (LONDON, SYDNEY, Decimal("16993959.652526")),
    # One 1e-7 degree of longitude on the equator: 1.1 cm.
    ((0, 100_000_000), (0, 100_000_001), Decimal("0.011120")),
    # Antipodes: half the circumference.
    ((0, 100_000_000), (0, -1_700_000_000), Decimal("20015114.442036")),
]


@pytest.mark.parametrize(("a", "b", "metres"), PINNED)
def test_pinned_distances_equal_the_reference(
    a: tuple[int, int], b: tuple[int, int], metres: Decimal
) -> None:
    reference = reference_m(*a, *b)
    assert abs(reference - metres) <= Decimal("0.000001")
    assert haversine_m(*a, *b) == pytest.approx(float(reference), rel=1e-12, abs=1e-6)


def test_fence_edges() -> None:
    # 2,482,394 x 1e-7 degree along the equator is 27,603.000000124 m: on the 27,603 m radius
    # to a micrometre. The float may land a hair above the integer; it still counts as inside.
    centre, point = (0, 100_000_000), (0, 102_482_394)
    true = reference_m(*centre, *point)
    assert Decimal(0) < true - 27_603 < Decimal(FENCE_TOLERANCE_M)
    assert inside_fence(*point, Fence(*centre, 27_603))
    assert not inside_fence(*point, Fence(*centre, 27_602))
    # Radius 0: the centre itself is on the radius.
    assert inside_fence(515_073_500, -1_278_000, Fence(515_073_500, -1_278_000, 0))
    assert not inside_fence(515_073_501, -1_278_000, Fence(515_073_500, -1_278_000, 0))
    paris_fence = Fence(*PARIS, 500)
    assert inside_fence(488_600_000, 23_522_000, paris_fence)  # 378 m north
    assert not inside_fence(488_620_000, 23_522_000, paris_fence)  # 600 m north


def test_no_fix_is_never_inside() -> None:
    # Even a fence drawn around (0, 0) itself.
    assert not inside_fence(0, 0, Fence(0, 0, 50_000))
    assert inside_fence(1, 0, Fence(0, 0, 50_000))
    assert inside_fence(0, 1, Fence(0, 0, 50_000))
    # Out-of-range positions are no fix either, not an error: a garbled reading stops nothing.
    assert not inside_fence(900_000_001, 0, Fence(900_000_000, 0, 50_000))
    assert not inside_fence(0, -1_800_000_001, Fence(0, -1_800_000_000, 50_000))


def test_bad_inputs() -> None:
    with pytest.raises(GeoError, match="lat_e7 must be within"):
        haversine_m(900_000_001, 0, 0, 0)
    with pytest.raises(GeoError, match="lon_e7 must be within"):
        Fence(0, 1_800_000_001, 100)
    with pytest.raises(GeoError, match="got float"):
        inside_fence(1.5, 0, Fence(0, 0, 1))  # type: ignore[arg-type]
    with pytest.raises(GeoError, match=r"radius_m must be uint32"):
        Fence(0, 0, -1)
    with pytest.raises(GeoError, match="must be a Fence"):
        inside_fence(1, 1, (0, 0, 1))  # type: ignore[arg-type]


lats = st.integers(-900_000_000, 900_000_000)
lons = st.integers(-1_800_000_000, 1_800_000_000)
points = st.tuples(lats, lons)


@settings(max_examples=300)
@given(points, points)
@example(LONDON, PARIS)
@example((900_000_000, 0), (-900_000_000, 0))
def test_symmetric_and_bounded(a: tuple[int, int], b: tuple[int, int]) -> None:
    d = haversine_m(*a, *b)
    assert d == pytest.approx(haversine_m(*b, *a), abs=1e-6)
    assert 0 <= d <= math.pi * EARTH_RADIUS_M + 1e-6


@settings(max_examples=200)
@given(points)
def test_zero_distance_to_itself(a: tuple[int, int]) -> None:
    assert haversine_m(*a, *a) == 0
    if a != (0, 0):
        assert inside_fence(*a, Fence(*a, 0))


@settings(max_examples=300)
@given(points, points, points)
def test_triangle_inequality(a: tuple[int, int], b: tuple[int, int], c: tuple[int, int]) -> None:
    # asin near 1 loses precision (about 1e-8 of R near antipodes): a few centimetres of slack.
    assert haversine_m(*a, *c) <= haversine_m(*a, *b) + haversine_m(*b, *c) + 0.05


@settings(max_examples=100, deadline=None)
@given(points, points)
def test_haversine_equals_the_reference(a: tuple[int, int], b: tuple[int, int]) -> None:
    # Near antipodes asin(sqrt(a)) is ill-conditioned: a float a has ~1e-16 relative error,
    # which becomes up to ~sqrt(1e-16) * R ~ 0.1 m; everywhere else it is sub-millimetre.
    assert haversine_m(*a, *b) == pytest.approx(float(reference_m(*a, *b)), abs=0.2)
