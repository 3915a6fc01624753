"""The destination geofence of escrow v2: haversine distance on a sphere, positions x 1e7.

DESIGN "Delivery and settlement rules (escrow v2)": haversine with R = 6,371,008.8 m (the WGS84
mean radius), on the radius counts as inside, lat = lon = 0 means no fix and is never inside.
Distances are floats; the fence test allows FENCE_TOLERANCE_M (a micrometre, far below the
1.1 cm of one 1e-7 degree) so that "on the radius" does not depend on the last bit of a libm.
"""

from __future__ import annotations

import dataclasses
import math

from core.abi_values import check_int
from core.errors import CoreValueError

EARTH_RADIUS_M = 6_371_008.8
E7 = 10_000_000
FENCE_TOLERANCE_M = 1e-6
MAX_LAT_E7 = 90 * E7
MAX_LON_E7 = 180 * E7


class GeoError(CoreValueError):
    """A position or fence out of range."""


def check_position(lat_e7: object, lon_e7: object) -> tuple[int, int]:
    """(lat, lon) x 1e7 as ints inside [-90, 90] x [-180, 180] degrees."""
    lat = check_int(lat_e7, "int32", "lat_e7", GeoError)
    lon = check_int(lon_e7, "int32", "lon_e7", GeoError)
    if not -MAX_LAT_E7 <= lat <= MAX_LAT_E7:
        raise GeoError(f"lat_e7 must be within +-{MAX_LAT_E7}, got {lat}")
    if not -MAX_LON_E7 <= lon <= MAX_LON_E7:
        raise GeoError(f"lon_e7 must be within +-{MAX_LON_E7}, got {lon}")
    return lat, lon


def is_fix(lat_e7: int, lon_e7: int) -> bool:
    """False for (0, 0): the devices' "no GPS fix"."""
    return lat_e7 != 0 or lon_e7 != 0


def haversine_m(lat1_e7: int, lon1_e7: int, lat2_e7: int, lon2_e7: int) -> float:
    """Great-circle distance in metres between two positions given in degrees x 1e7."""
    lat1, lon1 = check_position(lat1_e7, lon1_e7)
    lat2, lon2 = check_position(lat2_e7, lon2_e7)
    return _haversine_m(lat1, lon1, lat2, lon2)


def _haversine_m(lat1: int, lon1: int, lat2: int, lon2: int) -> float:
    phi1 = math.radians(lat1 / E7)
    phi2 = math.radians(lat2 / E7)
    dphi = math.radians((lat2 - lat1) / E7)
    dlambda = math.radians((lon2 - lon1) / E7)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    # Rounding can push a a hair past 1 for antipodes; asin would raise.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@dataclasses.dataclass(frozen=True)
class Fence:
    """A circle: centre (lat, lon) x 1e7 and radius in metres."""

    lat_e7: int
    lon_e7: int
    radius_m: int

    def __post_init__(self) -> None:
        check_position(self.lat_e7, self.lon_e7)
        check_int(self.radius_m, "uint32", "Fence.radius_m", GeoError)


def inside_fence(lat_e7: int, lon_e7: int, fence: Fence) -> bool:
    """True if the position is a fix within the fence (on the radius counts as inside).

    (0, 0) and positions beyond +-90 / +-180 degrees are no fix: never inside, never an error,
    so one garbled reading cannot stop a settlement.
    """
    if not isinstance(fence, Fence):
        raise GeoError(f"fence must be a Fence, got {type(fence).__name__}")
    lat = check_int(lat_e7, "int32", "lat_e7", GeoError)
    lon = check_int(lon_e7, "int32", "lon_e7", GeoError)
    if not is_fix(lat, lon) or abs(lat) > MAX_LAT_E7 or abs(lon) > MAX_LON_E7:
        return False
    distance = _haversine_m(lat, lon, fence.lat_e7, fence.lon_e7)
    return distance <= fence.radius_m + FENCE_TOLERANCE_M
