"""core.shipment_report: pinned arrival and window vectors, and Hypothesis properties."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from eth_account import Account
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.device_set import devices_root
from core.eip712 import (
    Reading,
    TermsV2,
    anchor_domain,
    digest,
    escrow_domain_v2,
    reading_digest,
    recover,
    sign,
)
from core.errors import MerkleError
from core.evidence import ZERO_ROOT, evidence_root
from core.shipment_report import (
    DeliveryBasis,
    Receiving,
    ShipmentReportError,
    VerifiedReading,
    late_hours,
    penalty_bps,
    shipment_report,
    split_deposit,
)

M = 60  # seconds per minute
MS = 1000
A = "0x4000000000000000000000000000000000000004"
B = "0x5000000000000000000000000000000000000005"
C = "0x6000000000000000000000000000000000000006"
ADDR = "0x1000000000000000000000000000000000000001"
DOMAIN = anchor_domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
T0 = 1_900_000_000  # shipping, unix seconds
DEST = (535_511_000, 99_937_000)  # Hamburg, radius 500 m
NEAR = (535_530_000, 99_937_000)  # 211 m north: inside
FAR = (535_800_000, 99_937_000)  # 3.2 km north: outside
NO_FIX = (0, 0)


def terms(devices: tuple[str, ...] = (A, B), **overrides: Any) -> TermsV2:
    fields: dict[str, Any] = {
        "shipment_id": b"\x11" * 32,
        "buyer": ADDR,
        "payee": ADDR,
        "carrier": ADDR,
        "token": "0x" + "00" * 20,
        "amount": 10**18,
        "min_temp_centi_c": 200,
        "max_temp_centi_c": 800,
        "min_humidity_centi_pct": 3_000,
        "max_humidity_centi_pct": 8_500,
        "max_shock_milli_g": 2_500,
        "grace_minutes": 15,
        "penalty_bps_per_minute": 10,
        "penalty_bps_per_shock": 40,
        "penalty_bps_per_late_hour": 25,
        "penalty_cap_bps": 5_000,
        "max_gap_minutes": 30,
        "fund_by": T0 - 3_600,
        "deadline": T0 + 10 * 3_600,
        "refund_grace": 3 * 86_400,
        "dispute_window": 86_400,
        "arbiter": ADDR,
        "dispute_timeout": 7 * 86_400,
        "devices_root": devices_root(devices),
        "dest_lat_e7": DEST[0],
        "dest_lon_e7": DEST[1],
        "dest_radius_m": 500,
        "arrival_dwell_minutes": 20,
        "auto_accept_after": 7_200,
        "oracle": ADDR,
    }
    fields.update(overrides)
    return TermsV2(**fields)


def reading(
    device: str,
    seq: int,
    at_ms: int,
    pos: tuple[int, int] = FAR,
    temp: int = 500,
    humidity: int = 5_000,
    shock: int = 0,
) -> VerifiedReading:
    r = Reading(device, seq, at_ms, temp, humidity, shock, pos[0], pos[1])
    return VerifiedReading(r, reading_digest(r, DOMAIN))


def track(
    device: str,
    from_min: int,
    to_min: int,
    pos: tuple[int, int] = FAR,
    first_seq: int | None = None,
    **values: Any,
) -> list[VerifiedReading]:
    """One reading a minute from T0 + from_min to T0 + to_min (inclusive); seq = minute + 100."""
    seq0 = from_min + 100 if first_seq is None else first_seq
    return [
        reading(device, seq0 + i, (T0 + m * M) * MS, pos, **values)
        for i, m in enumerate(range(from_min, to_min + 1))
    ]


def report(readings: list[VerifiedReading], now_min: int, **kwargs: Any) -> Any:
    t = kwargs.pop("terms", None) or terms()
    devices = kwargs.pop("devices", (A, B))
    kwargs.setdefault("shipped_at_ms", T0 * MS)
    return shipment_report(t, devices, readings, now=T0 + now_min * M, funded_at=T0 - 600, **kwargs)


def journey(device: str, arrive_min: int, end_min: int = 200) -> list[VerifiedReading]:
    """Far until arrive_min, then in the fence until end_min; seqs contiguous."""
    return track(device, 0, arrive_min - 1, FAR) + track(device, arrive_min, end_min, NEAR)


# --- arrival: pinned vectors -------------------------------------------------------------------


def test_all_devices_in_the_fence_for_the_dwell_deliver_at_the_first_reading_of_the_run() -> None:
    readings = journey(A, 60) + journey(B, 62)
    r = report(readings, now_min=200)
    # B enters last: the run of both starts with B's first reading inside, at minute 62.
    assert r.arrival is not None
    assert (r.arrival.at_ms, r.arrival.device) == ((T0 + 62 * M) * MS, B)
    assert r.arrival.digest == track(B, 62, 62, NEAR)[0].digest
    assert (r.delivered_at, r.delivery_basis) == (T0 + 62 * M, DeliveryBasis.ARRIVAL)
    assert r.window_start == T0 and r.window_end == T0 + 62 * M
    assert r.attestable_at == T0 + 62 * M + 20 * M + 7_200
    assert not r.may_attest  # minute 200 is before 62 + 20 + 120 = 202
    later = report(readings, now_min=202)
    assert later.may_attest and later.delivered_at == r.delivered_at
    # Readings of the dwell come after deliveredAt: outside the window, not evidence.
    assert len(r.evidence) == 2 * 63 and r.excursion_minutes == 0


def test_dwell_exactly_and_one_minute_short() -> None:
    exactly = journey(A, 60, end_min=80) + journey(B, 60, end_min=80)
    assert report(exactly, now_min=300).delivered_at == T0 + 60 * M
    short = journey(A, 60, end_min=79) + journey(B, 60, end_min=80)
    assert report(short, now_min=300).delivered_at is None


def test_one_of_two_loggers_in_the_fence_is_not_delivered() -> None:
    readings = journey(A, 60) + track(B, 0, 200, FAR)
    r = report(readings, now_min=400)
    assert (r.delivered_at, r.arrival, r.may_attest) == (None, None, False)
    assert r.window_end == T0 + 400 * M  # while undelivered, the display's window runs to now


def test_a_truck_passing_through_for_less_than_the_dwell_is_not_delivered() -> None:
    def passing(device: str) -> list[VerifiedReading]:
        return track(device, 0, 49, FAR) + track(device, 50, 65, NEAR) + track(device, 66, 200)

    assert report(passing(A) + passing(B), now_min=400).delivered_at is None


def test_no_fix_readings_are_never_inside() -> None:
    # A logger without GPS reports (0, 0) for hours: never arrives, even with the fence at (0, 0).
    readings = track(A, 0, 200, NO_FIX) + track(B, 0, 200, NO_FIX)
    assert report(readings, now_min=400).delivered_at is None
    at_null_island = terms(dest_lat_e7=0, dest_lon_e7=0)
    assert report(readings, now_min=400, terms=at_null_island).delivered_at is None
    # One (0, 0) fix in the middle of the run breaks it: 10 + 15 minutes inside, dwell 20.
    broken = (
        track(A, 0, 59) + track(A, 60, 70, NEAR) + track(A, 71, 71, NO_FIX) + track(A, 72, 86, NEAR)
    )
    assert report(broken + journey(B, 60), now_min=400).delivered_at is None


def test_a_reading_outside_restarts_the_run() -> None:
    a = journey(A, 60)
    a[75] = reading(A, 75, (T0 + 75 * M) * MS, FAR)  # minute 75: back outside once
    r = report(a + journey(B, 60), now_min=400)
    assert r.delivered_at == T0 + 76 * M


def test_gaps_in_the_run_up_to_max_gap() -> None:
    # Inside at minutes 60, 90 and 120 only: 30-minute gaps (= maxGapMinutes) keep the run.
    sparse = [reading(d, m, (T0 + m * M) * MS, NEAR) for d in (A, B) for m in (60, 90, 120)]
    assert report(sparse, now_min=400).delivered_at == T0 + 60 * M
    sparser = [reading(d, m, (T0 + m * M) * MS, NEAR) for d in (A, B) for m in (60, 91, 122)]
    assert report(sparser, now_min=400).delivered_at is None


def test_readings_before_the_window_do_not_start_the_run() -> None:
    # Parked at the destination before shipping: the run starts at the window start.
    readings = track(A, -60, 100, NEAR) + track(B, -60, 100, NEAR)
    r = report(readings, now_min=400)
    assert r.delivered_at == T0


def test_auto_accept_off_means_no_basis_1_but_the_arrival_still_caps_the_receiving() -> None:
    readings = journey(A, 60) + journey(B, 60)
    off = terms(auto_accept_after=0)
    r = report(readings, now_min=400, terms=off)
    assert r.arrival is not None and r.delivered_at is None  # no auto-accept: wait for receiving
    received = report(readings, now_min=400, terms=off, receiving=Receiving((T0 + 90 * M) * MS))
    assert (received.delivered_at, received.delivery_basis) == (T0 + 60 * M, 0)
    early = report(readings, now_min=400, terms=off, receiving=Receiving((T0 + 50 * M) * MS))
    assert (early.delivered_at, early.delivery_basis) == (T0 + 50 * M, 0)


def test_with_auto_accept_off_a_late_receiving_adds_no_late_hours_nor_gap_minutes() -> None:
    # Loggers removed 40 minutes after arrival; the consignee records receiving "now", 15 h
    # after shipping (5 h past the deadline). The devices prove arrival at minute 60.
    off = terms(auto_accept_after=0)
    readings = journey(A, 60, end_min=100) + journey(B, 60, end_min=100)
    r = report(readings, now_min=900, terms=off, receiving=Receiving((T0 + 900 * M) * MS))
    assert (r.delivered_at, r.delivery_basis, r.may_attest) == (T0 + 60 * M, 0, True)
    assert r.window_end == T0 + 60 * M and r.excursion_minutes == 0
    assert late_hours(r.delivered_at, off.deadline) == 0


# --- receiving, rejection, window start ----------------------------------------------------


def test_receiving_before_arrival_wins_and_is_attestable_at_once() -> None:
    readings = journey(A, 60) + journey(B, 62)
    r = report(readings, now_min=70, receiving=Receiving((T0 + 61 * M) * MS + 500))
    assert (r.delivered_at, r.delivery_basis, r.may_attest) == (T0 + 61 * M, 0, True)
    assert r.attestable_at == T0 + 61 * M


def test_a_receiving_after_arrival_cannot_push_delivery_later() -> None:
    readings = journey(A, 60) + journey(B, 62)
    r = report(readings, now_min=300, receiving=Receiving((T0 + 250 * M) * MS))
    assert (r.delivered_at, r.delivery_basis, r.may_attest) == (T0 + 62 * M, 0, True)


def test_rejection_is_attested_at_once_with_basis_receiving() -> None:
    readings = track(A, 0, 100) + track(B, 0, 100)
    r = report(readings, now_min=100, receiving=Receiving((T0 + 90 * M) * MS, rejected=True))
    assert (r.delivered_at, r.delivery_basis, r.rejected, r.may_attest) == (
        T0 + 90 * M,
        DeliveryBasis.RECEIVING,
        True,
        True,
    )


def test_a_receiving_after_now_has_not_happened() -> None:
    r = report(
        track(A, 0, 10) + track(B, 0, 10), now_min=10, receiving=Receiving((T0 + 11 * M) * MS)
    )
    assert r.delivered_at is None


def test_window_starts_at_funding_without_shipping_and_clamps_delivery() -> None:
    readings = track(A, -20, 30) + track(B, -20, 30)
    r = report(readings, now_min=30, shipped_at_ms=None, receiving=Receiving((T0 + 30 * M) * MS))
    assert r.window_start == T0 - 600  # the funding block time
    assert len(r.evidence) == 2 * 41  # minutes -10..30
    early = report(readings, now_min=30, receiving=Receiving((T0 - 60) * MS))
    assert early.delivered_at == early.window_start == T0
    # Shipping mid-second: the window opens at its second, as the chain compares seconds.
    mid = report(readings, now_min=30, shipped_at_ms=T0 * MS + 999)
    assert mid.window_start == T0


def test_the_window_never_opens_before_funding() -> None:
    # Shipping recorded 30 minutes before the funding block: the window opens at funding.
    funded_at = T0 + 30 * M
    hot = track(A, 0, 29, temp=900) + track(B, 0, 29, temp=900)  # before funding: not counted
    cool = track(A, 30, 60, first_seq=130) + track(B, 30, 60, first_seq=130)

    def at(**kwargs: Any) -> Any:
        return shipment_report(
            terms(), (A, B), hot + cool, now=T0 + 60 * M, funded_at=funded_at, **kwargs
        )

    r = at(shipped_at_ms=T0 * MS, receiving=Receiving((T0 + 60 * M) * MS))
    assert r.window_start == funded_at
    assert r.evidence == tuple(sorted(v.digest for v in cool))
    assert r.excursion_minutes == 0
    # A receiving before funding delivers at the funding block time (windowStart <= deliveredAt).
    before = at(shipped_at_ms=T0 * MS, receiving=Receiving((T0 + 10 * M) * MS))
    assert before.delivered_at == before.window_start == funded_at
    # Shipping after funding still opens the window.
    assert at(shipped_at_ms=(T0 + 45 * M) * MS).window_start == T0 + 45 * M


# --- minutes, shocks, evidence -----------------------------------------------------------------


def test_one_logger_never_publishes_the_whole_window_is_a_gap() -> None:
    r = report(track(A, 0, 120), now_min=130, receiving=Receiving((T0 + 120 * M) * MS))
    a, b = r.devices
    assert (a.device, a.excursion_minutes) == (A, 0)
    assert b.readings_in_window == 0 and b.counted_ms_by_kind["gap"] == 120 * M * MS + 999
    assert r.excursion_minutes == b.excursion_minutes == 121  # 120 min and 999 ms, rounded up
    assert r.evidence == tuple(sorted(v.digest for v in track(A, 0, 120)))


def test_one_logger_on_two_overlapping_shipments_counts_each_window() -> None:
    logger = track(C, 0, 240, temp=900)  # hot all along: every minute is out of band
    first = terms((C,), shipment_id=b"\x01" * 32)
    second = terms((C,), shipment_id=b"\x02" * 32)
    r1 = shipment_report(
        first,
        [C],
        logger,
        now=T0 + 300 * M,
        funded_at=T0,
        shipped_at_ms=T0 * MS,
        receiving=Receiving((T0 + 120 * M) * MS),
    )
    r2 = shipment_report(
        second,
        [C],
        logger,
        now=T0 + 300 * M,
        funded_at=T0,
        shipped_at_ms=(T0 + 60 * M) * MS,
        receiving=Receiving((T0 + 240 * M) * MS),
    )
    assert r1.evidence == tuple(sorted(v.digest for v in logger[0:121]))
    assert r2.evidence == tuple(sorted(v.digest for v in logger[60:241]))
    # Out of band 120 minutes (+ the last reading's 999 ms) less 15 grace; 180 less 15.
    assert (r1.excursion_minutes, r2.excursion_minutes) == (106, 166)


def test_humidity_and_shock_rules() -> None:
    dry = track(A, 0, 60, humidity=2_999) + track(B, 0, 60)
    received = Receiving((T0 + 60 * M) * MS)
    assert report(dry, now_min=60, receiving=received).excursion_minutes == 46
    assert (
        report(
            dry, now_min=60, receiving=received, terms=terms(min_humidity_centi_pct=0)
        ).excursion_minutes
        == 0
    )
    # Out of both bands at once counts once.
    both = track(A, 0, 60, humidity=9_000, temp=900) + track(B, 0, 60)
    assert report(both, now_min=60, receiving=received).excursion_minutes == 46
    # maxHumidity 0: no upper bound.
    wet = track(A, 0, 60, humidity=9_999) + track(B, 0, 60)
    assert (
        report(
            wet, now_min=60, receiving=received, terms=terms(max_humidity_centi_pct=0)
        ).excursion_minutes
        == 0
    )
    bumps = [
        *track(A, 0, 60),
        reading(A, 10, (T0 + 10 * M) * MS, shock=2_501),  # seq 10 again, harder: once
        reading(A, 20, (T0 + 20 * M) * MS + 1, shock=2_501),  # seq 20 again: still one seq
        *track(B, 0, 60, shock=2_500),  # at the limit: not a shock
    ]
    r = report(bumps, now_min=60, receiving=received)
    assert (r.shock_count, [d.shocks for d in r.devices]) == (2, [2, 0])
    assert (
        report(bumps, now_min=60, receiving=received, terms=terms(max_shock_milli_g=0)).shock_count
        == 0
    )


def test_an_out_of_band_copy_of_a_seq_counts() -> None:
    # Seqs 110..129 signed a second time, hot, at the same instants: the hot copies count.
    received = Receiving((T0 + 60 * M) * MS)
    readings = track(A, 0, 60) + track(B, 0, 60)
    hot = track(A, 10, 30, temp=900)
    assert report(readings, now_min=60, receiving=received).excursion_minutes == 0
    r = report(readings + hot, now_min=60, receiving=received)
    assert (r.excursion_minutes, len(r.evidence)) == (6, 122 + 21)  # 21 hot minutes - 15


def test_ignored_readings() -> None:
    readings = [*track(A, 0, 10), *track(B, 0, 10)]
    extra = [readings[0], *track(C, 0, 10), reading(A, 99, (T0 + 11 * M) * MS)]
    r = report(readings + extra, now_min=10)
    assert r.readings_ignored == 1 + 11 + 1  # a duplicate, another device, the future
    assert r.evidence == tuple(sorted(v.digest for v in readings))
    assert r.evidence_root == evidence_root(r.evidence)
    assert report([], now_min=0, shipped_at_ms=(T0 + 1) * MS).evidence_root == ZERO_ROOT


def test_attestation_and_penalty_helpers() -> None:
    t = terms()
    readings = journey(A, 60) + journey(B, 60)
    r = report(readings, now_min=300, terms=t)
    att = r.attestation(t)
    assert (att.delivered_at, att.delivery_basis, att.window_start) == (T0 + 60 * M, 1, T0)
    key = b"\x05" * 32
    domain = escrow_domain_v2(31337, ADDR)
    assert recover(att, domain, sign(att, domain, key)) == Account.from_key(key).address
    assert len(digest(att, domain)) == 32
    with pytest.raises(ShipmentReportError, match="not delivered"):
        report(track(A, 0, 5), now_min=5).attestation(t)
    assert [late_hours(t.deadline + s, t.deadline) for s in (-5, 0, 1, 3_600, 3_601)] == [
        0,
        0,
        1,
        1,
        2,
    ]
    # 7 minutes x 10 + 2 shocks x 40 + 2 late hours x 25 = 200 bps; the cap bounds it.
    assert penalty_bps(t, 7, 2, t.deadline + 3_601) == 200
    assert penalty_bps(t, 10**6, 0, t.deadline) == 5_000
    assert split_deposit(10**18, 200) == (98 * 10**16, 2 * 10**16)


def test_bad_inputs() -> None:
    with pytest.raises(ShipmentReportError, match="devicesRoot"):
        report([], now_min=0, devices=(A,))
    with pytest.raises(MerkleError, match="appears twice"):
        report([], now_min=0, devices=(A, A))
    with pytest.raises(ShipmentReportError, match=r"readings\[0\] must be a VerifiedReading"):
        report([(A, 1)], now_min=0)  # type: ignore[list-item]
    with pytest.raises(ShipmentReportError, match="must be TermsV2"):
        shipment_report(None, [A], [], now=0, funded_at=0)  # type: ignore[arg-type]
    with pytest.raises(ShipmentReportError, match="must be 32 bytes"):
        VerifiedReading(track(A, 0, 0)[0].reading, b"\x00")


def test_verified_reading_checks_the_device_signature() -> None:
    key = b"\x09" * 32
    device = Account.from_key(key).address
    r = Reading(device, 1, T0 * MS, 500, 5_000, 0, *NEAR)
    signature = sign(r, DOMAIN, key)
    assert VerifiedReading.verify(r, signature, DOMAIN).digest == reading_digest(r, DOMAIN)
    forged = dataclasses.replace(r, temperature_centi_c=400)
    with pytest.raises(ShipmentReportError, match="not signed by its device"):
        VerifiedReading.verify(forged, signature, DOMAIN)


# --- properties ------------------------------------------------------------------------------

positions = st.sampled_from([NEAR, FAR, NO_FIX, DEST])
temps = st.sampled_from([500, 500, 500, 900, 100])


@st.composite
def device_readings(draw: st.DrawFn, device: str) -> list[VerifiedReading]:
    """Up to 60 readings over 4 hours: seqs and times drawn, some duplicates and holes."""
    n = draw(st.integers(0, 60))
    out = []
    for _ in range(n):
        seq = draw(st.integers(0, 80))
        # Coarse times half the time: readings sharing a millisecond test the tie-breaks.
        minute = draw(st.integers(-3, 24).map(lambda m: 10 * m) | st.integers(-30, 240))
        at = (T0 + minute * M) * MS + draw(st.sampled_from([0, 0, 1, 999]) | st.integers(0, 999))
        out.append(
            reading(
                device,
                seq,
                at,
                draw(positions),
                draw(temps),
                draw(st.sampled_from([5_000, 2_000])),
                draw(st.sampled_from([0, 3_000])),
            )
        )
    return out


scenarios = st.fixed_dictionaries(
    {
        "now_min": st.integers(0, 300),
        "receiving": st.none()
        | st.builds(
            lambda m, rej: Receiving((T0 + m * M) * MS, rej), st.integers(-10, 300), st.booleans()
        ),
        "shipped_at_ms": st.none() | st.integers(-20, 60).map(lambda m: (T0 + m * M) * MS),
    }
)


@settings(max_examples=60, deadline=None)
@given(device_readings(A), device_readings(B), scenarios, st.randoms(use_true_random=False))
def test_order_of_readings_does_not_matter(
    a: list[VerifiedReading],
    b: list[VerifiedReading],
    scenario: dict[str, Any],
    rnd: random.Random,
) -> None:
    readings = a + b
    shuffled = readings[:]
    rnd.shuffle(shuffled)
    assert report(shuffled, **scenario) == report(readings, **scenario)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 15),
    st.lists(
        st.tuples(st.sampled_from([A, B]), st.integers(40, 120), st.sampled_from([FAR, NO_FIX])),
        max_size=4,
    ),
    st.randoms(use_true_random=False),
)
def test_order_of_readings_does_not_matter_for_arrival(
    offset: int, intruders: list[tuple[str, int, tuple[int, int]]], rnd: random.Random
) -> None:
    # Readings outside the fence at the very millisecond of a reading inside it.
    readings = journey(A, 60) + journey(B, 60 + offset)
    readings += [
        reading(d, 5_000 + i, (T0 + m * M) * MS, pos) for i, (d, m, pos) in enumerate(intruders)
    ]
    shuffled = readings[:]
    rnd.shuffle(shuffled)
    assert report(shuffled, now_min=400) == report(readings, now_min=400)


@settings(max_examples=60, deadline=None)
@given(device_readings(A), device_readings(B), scenarios, st.sampled_from([A, B]))
def test_every_device_counts(
    a: list[VerifiedReading], b: list[VerifiedReading], scenario: dict[str, Any], silent: str
) -> None:
    full = report(a + b, **scenario)
    without = report([v for v in a + b if v.reading.device != silent], **scenario)
    # A silent device counts its whole window; a shorter window (an earlier delivery) can only
    # come with a receiving, which the silence does not change.
    if without.window_end == full.window_end:
        assert without.excursion_minutes >= full.excursion_minutes
    assert without.delivered_at is None or scenario["receiving"] is not None


@settings(max_examples=60, deadline=None)
@given(
    device_readings(A),
    device_readings(B),
    scenarios,
    st.integers(0, 119),
    st.sampled_from([(900, 5_000), (100, 5_000), (500, 9_000), (500, 1_000)]),
)
def test_an_extra_out_of_band_copy_of_a_reading_never_lowers_the_minutes(
    a: list[VerifiedReading],
    b: list[VerifiedReading],
    scenario: dict[str, Any],
    index: int,
    bad: tuple[int, int],
) -> None:
    # The same seq re-sent with the same time and a value out of band (a device that signed
    # twice): the report keeps the one farthest out, never the kinder one.
    readings = a + b
    assume(readings)
    r = readings[index % len(readings)].reading
    extra = reading(r.device, r.seq, r.taken_at_ms, (r.lat_e7, r.lon_e7), *bad)
    before, after = report(readings, **scenario), report([*readings, extra], **scenario)
    assume(before.window_end == after.window_end)  # a fix of the extra may change arrival
    assert after.excursion_minutes >= before.excursion_minutes


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=2, max_size=40),
    st.data(),
    st.sampled_from([(900, 5_000), (100, 5_000), (500, 9_000), (500, 1_000)]),
)
def test_an_extra_out_of_band_reading_in_a_sampled_stretch_never_lowers_the_minutes(
    steps: list[int], data: st.DataObject, bad: tuple[int, int]
) -> None:
    # A with contiguous seqs and no gap over maxGap; an extra reading with the next seq, taken
    # anywhere between A's first and last reading. (Inside a silence longer than maxGap it can
    # lower the minutes: see test_a_reading_inside_a_silence_can_lower_the_minutes.)
    minutes = [sum(steps[: i + 1]) for i in range(len(steps))]
    a = [reading(A, i, (T0 + m * M) * MS, temp=data.draw(temps)) for i, m in enumerate(minutes)]
    b = track(B, 0, minutes[-1])
    at_ms = (T0 + data.draw(st.integers(minutes[0], minutes[-1])) * M) * MS
    extra = reading(A, len(a), at_ms, FAR, *bad)
    received = Receiving((T0 + minutes[-1] * M) * MS)
    scenario = {
        "now_min": minutes[-1],
        "receiving": received,
        "shipped_at_ms": (T0 + minutes[0] * M) * MS,
    }
    before = report(a + b, **scenario)
    assert report([*a, extra, *b], **scenario).excursion_minutes >= before.excursion_minutes


def test_a_reading_inside_a_silence_can_lower_the_minutes() -> None:
    # core.sla's rule, kept for v2: a silence beyond maxGap counts in full, an out-of-band
    # reading gets the grace. 100 silent minutes count 70 (100 - maxGap 30); a hot reading at
    # minute 30 turns them into 30 hot minutes (30 - grace 15 = 15) and a 40-minute gap.
    received = Receiving((T0 + 100 * M) * MS)
    a = [reading(A, 0, T0 * MS)]
    b = track(B, 0, 100)
    before = report(a + b, now_min=100, receiving=received)
    hot = reading(A, 1, (T0 + 30 * M) * MS, temp=900)
    after = report([*a, hot, *b], now_min=100, receiving=received)
    assert (before.excursion_minutes, after.excursion_minutes) == (71, 56)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 15), st.integers(1, 20), st.sampled_from([A, B]), st.sampled_from([FAR, NO_FIX])
)
def test_an_outside_reading_in_the_run_restarts_it(
    arrive_offset: int, after: int, device: str, where: tuple[int, int]
) -> None:
    a, b = journey(A, 60), journey(B, 60 + arrive_offset)
    before = report(a + b, now_min=400)
    assert before.arrival is not None
    at_ms = before.arrival.at_ms + after * M * MS - 1  # inside the dwell, strictly after arrival
    intruder = reading(device, 10_000, at_ms, where)
    moved = report([*a, *b, intruder], now_min=400)
    assert moved.arrival is None or moved.arrival.at_ms > at_ms
