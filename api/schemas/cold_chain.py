"""`coldChain` of the resolver's item JSON (api/cold_chain.py builds it): per shipment the item
travelled in, the agreed bands and window from the terms, what the settlement counts, and a
bounded series of readings for the chart. No amount, penalty, device id, shipment id, wallet or
position: sensors are numbered. Times are ISO 8601 UTC with milliseconds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeSpan(_Out):
    start: str
    end: str


class TemperatureBand(_Out):
    """The terms' temperature band in degC, bounds inclusive."""

    min_c: float = Field(alias="minC")
    max_c: float = Field(alias="maxC")


class HumidityBand(_Out):
    """The terms' humidity band in % (a bound the terms leave off is null)."""

    min_pct: float | None = Field(alias="minPct")
    max_pct: float | None = Field(alias="maxPct")


class Excursion(_Out):
    """Time outside the band (sensors' overlapping episodes merged)."""

    start: str
    end: str
    minutes: int = Field(description="Minutes this excursion counts after the terms' grace")
    cause: str = Field(description="temperature, or humidity (outside the humidity band only)")
    peak_c: float | None = Field(
        alias="peakC", description="The temperature farthest outside the band (null: humidity)"
    )
    peak_at: str | None = Field(alias="peakAt")


class Peak(_Out):
    """The reading farthest outside the band; with none outside, the warmest."""

    c: float
    at: str


class SeriesPoint(_Out):
    at: str
    c: float = Field(description="degC")
    rh: float | None = Field(description="Humidity %, when the terms set a humidity band")
    g: int | None = Field(description="Shock in mg, when the terms set a shock limit")


class ColdChainLeg(_Out):
    """One shipment the item travelled in, from its shipping on."""

    status: str = Field(description="in_transit or delivered")
    window: TimeSpan = Field(description="The settlement window (to now while in transit)")
    band: TemperatureBand
    grace_minutes: int = Field(alias="graceMinutes")
    humidity_band: HumidityBand | None = Field(alias="humidityBand")
    max_shock_milli_g: int | None = Field(alias="maxShockMilliG")
    excursion_minutes: int = Field(
        alias="excursionMinutes",
        description="The minutes the settlement counts: outside the bands beyond the grace, "
        "and data gaps (the worst sensor's)",
    )
    excursions: list[Excursion]
    gaps: list[TimeSpan] = Field(description="Stretches without readings that count as minutes")
    peak: Peak | None
    shocks: int | None = Field(description="Readings above the shock limit (null: no limit)")
    reading_count: int = Field(alias="readingCount", description="Signed readings in the window")
    sensors: int = Field(description="How many sensors reported (numbered 1.. in `series`)")
    series: list[list[SeriesPoint]] = Field(
        description="Per sensor, its readings by time, bounded: 120 equal-time buckets shared "
        "by the sensors (at least 20 each), each keeping its lowest and highest temperature "
        "(and humidity and shock when watched), so peaks survive"
    )


class ColdChain(_Out):
    legs: list[ColdChainLeg] = Field(min_length=1)
