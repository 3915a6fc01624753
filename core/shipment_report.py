"""The escrow v2 shipment report: one pure function for the oracle, the display and the auditor.

Rules (DESIGN "Delivery and settlement rules (escrow v2)"); times on chain are unix seconds,
readings carry milliseconds:

1. Window start: the shipping event's second (floor), else the funding block time; never before
   the funding block time (a shipping event before funding opens the window at funding: the
   escrow covers nothing before it existed).
   The window is the chain's: every millisecond of the seconds [windowStart, end], end being
   deliveredAt (or `now` while not delivered), exactly what ShipmentEscrowV2 accepts as "taken
   inside the window" in a dispute.
2. Readings: those of devices in the set, taken at or before `now`; exact duplicates (same
   digest) once. Readings of other devices or from the future are ignored and counted.
3. Device arrival (whatever autoAcceptAfter: the fence is mandatory on chain): a device's run
   is a maximal series of its readings from the window start on, in (takenAt, seq) order, all
   inside the fence (a reading outside, or with no fix, ends it) with gaps no longer than
   maxGapMinutes. Arrival is the earliest time A such that every device of the set has a run
   containing [A, A + dwell]; A is then the first reading of the latest-starting device's run.
4. Delivery: the consignee's receiving (accepted or rejected), not after `now`: basis 0, attest
   at once, deliveredAt = the earlier of the receiving and the arrival, also when
   autoAcceptAfter = 0 (a late receiving cannot push deliveredAt, and with it late hours and
   the window, past what the devices prove). Without a receiving, the arrival only when
   autoAcceptAfter > 0: basis 1, attestable from deliveredAt + dwell + autoAcceptAfter (as the
   contract checks); with autoAcceptAfter = 0 the shipment waits for the receiving. A delivery
   before the window start is clamped to it.
5. Excursion minutes per device: core.sla's rules with "out of band" meaning temperature outside
   [min, max] or humidity below minHumidity or above maxHumidity (each humidity bound off when
   0); a minute outside both bands counts once. A device without readings in the window counts
   the whole window as a gap. The shipment counts its worst device (as v1 does).
6. Shocks per device: seqs with a reading above maxShockMilliG (0 = off); the worst device.
7. Evidence: every reading of rule 2 inside the window, committed in core.evidence's root.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Sequence
from enum import IntEnum

from core.abi_values import check_bytes32, check_int
from core.device_set import checked_devices, devices_root
from core.eip712 import (
    DeliveryAttestationV2,
    Domain,
    Reading,
    TermsV2,
    reading_digest,
    terms_hash,
)
from core.errors import SlaError
from core.evidence import evidence_root
from core.geo import Fence, inside_fence
from core.signature import recover_digest
from core.sla import MS_PER_MINUTE, Episode, SlaPolicy, SlaReading, excursion_minutes

_UINT32_MAX = 2**32 - 1
_INT32_MAX = 2**31 - 1
BPS = 10_000
HOUR_S = 3_600


class ShipmentReportError(SlaError):
    """Inputs that cannot make a shipment report (wrong device set, malformed reading)."""


class DeliveryBasis(IntEnum):
    """DeliveryAttestation v2 `deliveryBasis`."""

    RECEIVING = 0
    ARRIVAL = 1


@dataclasses.dataclass(frozen=True)
class VerifiedReading:
    """A device-signed reading and its EIP-712 digest (under its TraceAnchor's domain)."""

    reading: Reading
    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.reading, Reading):
            raise ShipmentReportError(f"reading must be a Reading, got {type(self.reading)}")
        check_bytes32(self.digest, "VerifiedReading.digest", ShipmentReportError)

    @classmethod
    def verify(cls, reading: Reading, signature: bytes, domain: Domain) -> VerifiedReading:
        """The reading if `signature` recovers to its device (Eip712Error if malformed)."""
        digest = reading_digest(reading, domain)
        if recover_digest(digest, signature) != reading.device:
            raise ShipmentReportError(f"reading seq {reading.seq} is not signed by its device")
        return cls(reading, digest)


@dataclasses.dataclass(frozen=True)
class Receiving:
    """The consignee's receiving event: its time, and whether it rejected the goods."""

    at_ms: int
    rejected: bool = False

    def __post_init__(self) -> None:
        check_int(self.at_ms, "uint64", "Receiving.at_ms", ShipmentReportError)
        if not isinstance(self.rejected, bool):
            raise ShipmentReportError("Receiving.rejected must be a bool")


@dataclasses.dataclass(frozen=True)
class Arrival:
    """Every device in the fence for the dwell: from the reading `digest` of `device` on."""

    at_ms: int
    device: str
    digest: bytes


@dataclasses.dataclass(frozen=True)
class DeviceReport:
    """One device of the set over the window."""

    device: str
    readings_in_window: int
    excursion_minutes: int
    counted_ms: int
    counted_ms_by_kind: dict[str, int]  # "band" (temperature or humidity), "gap", "missing"
    missing_seqs: int
    shocks: int
    # core.sla's episodes behind the minutes, for the display (never a second computation of
    # what the attestation counts); "temperature" here means outside either band, and its
    # peak_centi_c is the distance outside (rule 5's mapping), not a temperature.
    episodes: tuple[Episode, ...] = ()


@dataclasses.dataclass(frozen=True)
class ShipmentReport:
    """Window, delivery, attestability, minutes, shocks and evidence of one shipment."""

    window_start: int  # seconds: the attestation's windowStart
    window_end: int  # seconds: deliveredAt, or `now` while not delivered
    delivered_at: int | None
    delivery_basis: DeliveryBasis | None
    rejected: bool
    arrival: Arrival | None  # device arrival, also shown when a receiving came first
    attestable_at: int | None  # seconds from which the contract accepts the attestation
    may_attest: bool
    excursion_minutes: int
    shock_count: int
    devices: tuple[DeviceReport, ...]
    evidence: tuple[bytes, ...]  # reading digests behind evidence_root, sorted
    evidence_root: bytes
    readings_ignored: int

    @property
    def delivered(self) -> bool:
        """True once a receiving or a device arrival sets the delivery."""
        return self.delivered_at is not None

    @property
    def window_ms(self) -> tuple[int, int]:
        """The window in milliseconds, both ends inclusive."""
        return self.window_start * 1000, self.window_end * 1000 + 999

    def attestation(self, terms: TermsV2) -> DeliveryAttestationV2:
        """The DeliveryAttestation v2 the oracle signs for this report."""
        if self.delivered_at is None or self.delivery_basis is None:
            raise ShipmentReportError("not delivered: nothing to attest")
        return DeliveryAttestationV2(
            shipment_id=terms.shipment_id,
            terms_hash=terms_hash(terms),
            evidence_root=self.evidence_root,
            excursion_minutes=self.excursion_minutes,
            shock_count=self.shock_count,
            window_start=self.window_start,
            delivered_at=self.delivered_at,
            delivery_basis=int(self.delivery_basis),
        )


def late_hours(delivered_at: int, deadline: int) -> int:
    """Started hours past the deadline: ceil((deliveredAt - deadline) / 3600), else 0."""
    return -(-(delivered_at - deadline) // HOUR_S) if delivered_at > deadline else 0


def penalty_bps(terms: TermsV2, excursion_minutes: int, shock_count: int, delivered_at: int) -> int:
    """The penalty the contract computes: min(cap, minutes, shocks and late hours x their bps)."""
    return min(
        terms.penalty_cap_bps,
        excursion_minutes * terms.penalty_bps_per_minute
        + shock_count * terms.penalty_bps_per_shock
        + late_hours(delivered_at, terms.deadline) * terms.penalty_bps_per_late_hour,
    )


def split_deposit(amount: int, bps: int) -> tuple[int, int]:
    """(payout, refund) for a penalty in bps; payout + refund = amount."""
    penalty = amount * min(bps, BPS) // BPS
    return amount - penalty, penalty


def _out_of_band(r: Reading, terms: TermsV2) -> int:
    """0 inside both bands, else a positive measure of how far outside (for sla's tie-breaks)."""
    t = r.temperature_centi_c
    deviation = max(terms.min_temp_centi_c - t, t - terms.max_temp_centi_c, 0)
    if terms.min_temp_centi_c > terms.max_temp_centi_c:
        deviation = max(deviation, 1)  # an empty band: nothing is inside
    h = r.humidity_centi_pct
    deviation = max(deviation, terms.min_humidity_centi_pct - h)
    if terms.max_humidity_centi_pct:
        deviation = max(deviation, h - terms.max_humidity_centi_pct)
    return deviation


def _device_report(
    device: str, readings: list[Reading], terms: TermsV2, start_ms: int, end_ms: int
) -> DeviceReport:
    # core.sla looks only at whether a reading is in its band: map each reading onto a band of
    # [0, 0], 0 for "inside both bands" and the distance outside otherwise.
    policy = SlaPolicy(0, 0, terms.grace_minutes, terms.max_gap_minutes)
    sla_readings = [
        SlaReading(r.seq, r.taken_at_ms, min(_out_of_band(r, terms), _INT32_MAX)) for r in readings
    ]
    report = excursion_minutes(sla_readings, policy, start_ms, end_ms)
    by_kind = report.counted_ms_by_kind()
    limit = terms.max_shock_milli_g
    shocks = len({r.seq for r in readings if limit and r.shock_milli_g > limit})
    return DeviceReport(
        device=device,
        readings_in_window=len(readings),
        excursion_minutes=report.total_minutes,
        counted_ms=report.counted_ms,
        counted_ms_by_kind={
            "band": by_kind["temperature"],
            "gap": by_kind["gap"],
            "missing": by_kind["missing"],
        },
        missing_seqs=report.missing_seqs,
        shocks=shocks,
        episodes=report.episodes,
    )


_Run = tuple[int, int, bytes]  # first and last reading time (ms), digest of the first


def _runs(readings: list[VerifiedReading], fence: Fence, max_gap_ms: int) -> list[_Run]:
    """A device's maximal in-fence runs (rule 3), in time order."""
    runs: list[_Run] = []
    current: _Run | None = None
    for v in readings:
        r = v.reading
        if not inside_fence(r.lat_e7, r.lon_e7, fence):
            if current is not None:
                runs.append(current)
            current = None
        elif current is not None and r.taken_at_ms - current[1] <= max_gap_ms:
            current = (current[0], r.taken_at_ms, current[2])
        else:
            if current is not None:
                runs.append(current)
            current = (r.taken_at_ms, r.taken_at_ms, v.digest)
    if current is not None:
        runs.append(current)
    return runs


def _arrival(
    by_device: dict[str, list[VerifiedReading]], terms: TermsV2, start_ms: int
) -> Arrival | None:
    """Rule 3: the earliest A with every device's run covering [A, A + dwell]."""
    fence = Fence(terms.dest_lat_e7, terms.dest_lon_e7, terms.dest_radius_m)
    max_gap = terms.max_gap_minutes * MS_PER_MINUTE
    dwell = terms.arrival_dwell_minutes * MS_PER_MINUTE
    runs = {
        device: _runs([v for v in vs if v.reading.taken_at_ms >= start_ms], fence, max_gap)
        for device, vs in by_device.items()
    }
    starts = {device: [run[0] for run in device_runs] for device, device_runs in runs.items()}
    candidates = sorted(
        (run[0], device, run[2]) for device, device_runs in runs.items() for run in device_runs
    )
    for at, device, digest in candidates:
        covered = True
        for other, other_runs in runs.items():
            # The run starting last at or before `at` is the only one that can contain it.
            i = bisect.bisect_right(starts[other], at) - 1
            if i < 0 or other_runs[i][1] < at + dwell:
                covered = False
                break
        if covered:
            return Arrival(at, device, digest)
    return None


def _select(
    devices: tuple[str, ...], readings: Iterable[VerifiedReading], now_ms: int
) -> tuple[dict[str, list[VerifiedReading]], int]:
    """Rule 2: the set's readings up to now, one per digest, sorted; and how many were left."""
    if isinstance(readings, str | bytes | bytearray):
        raise ShipmentReportError("readings must be VerifiedReadings, not one value")
    by_device: dict[str, dict[bytes, VerifiedReading]] = {d: {} for d in devices}
    ignored = 0
    for i, v in enumerate(readings):
        if not isinstance(v, VerifiedReading):
            raise ShipmentReportError(f"readings[{i}] must be a VerifiedReading, got {type(v)}")
        chosen = by_device.get(v.reading.device)
        if chosen is None or v.reading.taken_at_ms > now_ms or v.digest in chosen:
            ignored += 1
            continue
        chosen[v.digest] = v
    ordered = {
        device: sorted(vs.values(), key=lambda v: (v.reading.taken_at_ms, v.reading.seq, v.digest))
        for device, vs in by_device.items()
    }
    return ordered, ignored


def shipment_report(
    terms: TermsV2,
    devices: Sequence[str],
    readings: Iterable[VerifiedReading],
    *,
    now: int,
    funded_at: int,
    shipped_at_ms: int | None = None,
    receiving: Receiving | None = None,
) -> ShipmentReport:
    """The whole escrow v2 report (rules in the module docstring); `now` and `funded_at` in s."""
    if not isinstance(terms, TermsV2):
        raise ShipmentReportError(f"terms must be TermsV2, got {type(terms).__name__}")
    device_set = checked_devices(devices)
    if devices_root(device_set) != terms.devices_root:
        raise ShipmentReportError("the devices do not hash to the terms' devicesRoot")
    check_int(now, "uint64", "now", ShipmentReportError)
    check_int(funded_at, "uint64", "funded_at", ShipmentReportError)
    if shipped_at_ms is not None:
        check_int(shipped_at_ms, "uint64", "shipped_at_ms", ShipmentReportError)
    if receiving is not None and not isinstance(receiving, Receiving):
        raise ShipmentReportError(f"receiving must be a Receiving, got {type(receiving)}")

    # Never before funding: a shipping event recorded (or backdated) before it opens nothing.
    window_start = max(shipped_at_ms // 1000, funded_at) if shipped_at_ms is not None else funded_at
    by_device, ignored = _select(device_set, readings, now * 1000 + 999)

    arrival = _arrival(by_device, terms, window_start * 1000)
    arrival_ms = arrival.at_ms if arrival is not None else None
    if receiving is not None and receiving.at_ms > now * 1000 + 999:
        receiving = None  # not happened yet as of `now`
    delivered_at: int | None = None
    basis: DeliveryBasis | None = None
    attestable_at: int | None = None
    if receiving is not None:
        delivered_ms = min(receiving.at_ms, arrival_ms if arrival_ms is not None else 2**64)
        delivered_at = max(window_start, delivered_ms // 1000)
        basis, attestable_at = DeliveryBasis.RECEIVING, delivered_at
    elif arrival_ms is not None and terms.auto_accept_after:
        delivered_at = max(window_start, arrival_ms // 1000)
        basis = DeliveryBasis.ARRIVAL
        attestable_at = delivered_at + terms.arrival_dwell_minutes * 60 + terms.auto_accept_after

    window_end = delivered_at if delivered_at is not None else max(window_start, now)
    start_ms, end_ms = window_start * 1000, window_end * 1000 + 999
    reports = []
    evidence: list[bytes] = []
    for device in device_set:
        inside = [v for v in by_device[device] if start_ms <= v.reading.taken_at_ms <= end_ms]
        evidence.extend(v.digest for v in inside)
        reports.append(_device_report(device, [v.reading for v in inside], terms, start_ms, end_ms))
    evidence.sort()
    return ShipmentReport(
        window_start=window_start,
        window_end=window_end,
        delivered_at=delivered_at,
        delivery_basis=basis,
        rejected=receiving is not None and receiving.rejected,
        arrival=arrival,
        attestable_at=attestable_at,
        may_attest=attestable_at is not None and now >= attestable_at,
        excursion_minutes=min(max(r.excursion_minutes for r in reports), _UINT32_MAX),
        shock_count=min(max(r.shocks for r in reports), _UINT32_MAX),
        devices=tuple(reports),
        evidence=tuple(evidence),
        evidence_root=evidence_root(evidence),
        readings_ignored=ignored,
    )
