"""Temperature excursions as EPCIS ObjectEvents with an ALARM_CONDITION sensorReport.

The episodes come from core.sla.excursion_minutes (the same function the settlement worker pays
out by) over one device's stored readings of a shipment, with the policy from the shipment's
stored terms. Only closed episodes (an in-band reading after them) are recorded: an open one may
still grow. The event is a pure function of the readings, so a second pass builds the same JSON,
hashes to the same event hash and is refused by the store as a duplicate: no state is kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.eip712 import Terms
from core.epcis.sensor_events import centi, sensor_observation
from core.errors import SlaError
from core.sla import Episode, SlaPolicy, SlaReading, excursion_minutes
from store.models import Reading, Shipment

_LOGGER = logging.getLogger(__name__)

EXCURSION_METHOD = "urn:chaintrace:sla-excursion:v1"
CT_EXCURSION_MINUTES = "ct:excursionMinutes"
ALARM = "ALARM_CONDITION"


@dataclass(frozen=True, slots=True)
class Excursion:
    """One closed temperature episode: core.sla's episode and its readings' extremes."""

    episode: Episode
    min_centi_c: int
    max_centi_c: int


def shipment_policy(shipment: Shipment) -> SlaPolicy | None:
    """The SLA policy of the shipment's stored terms, or None if they do not parse."""
    try:
        # The same parsing as chain.settlement.attestation.verified_terms (the payout authority).
        terms = Terms.from_json(json.loads(shipment.terms_json))
        return SlaPolicy.from_terms(terms)
    except (ValueError, TypeError) as exc:  # json, Eip712Error and SlaError are ValueErrors
        _LOGGER.debug("shipment %d: no excursion events, terms unusable: %s", shipment.id, exc)
        return None


def closed_excursions(readings: Sequence[SlaReading], policy: SlaPolicy) -> list[Excursion]:
    """The closed temperature episodes of one device's readings (unique seqs), in time order."""
    ordered = sorted(readings, key=lambda r: (r.taken_at_ms, r.seq))
    if len({r.seq for r in ordered}) != len(ordered):
        raise SlaError("closed_excursions needs one reading per seq")
    # core.sla walks the same (time, seq) order: each maximal out-of-band run is one episode.
    runs: list[list[SlaReading]] = []
    inside = True
    for reading in ordered:
        if policy.deviation(reading.temperature_centi_c):
            if inside:
                runs.append([])
            runs[-1].append(reading)
            inside = False
        else:
            inside = True
    report = excursion_minutes(ordered, policy)
    episodes = [e for e in report.episodes if e.kind == "temperature"]
    if len(episodes) != len(runs):
        raise SlaError(f"{len(runs)} out-of-band runs but {len(episodes)} episodes")
    if not inside:
        runs, episodes = runs[:-1], episodes[:-1]  # the last run is still open
    out = []
    for run, episode in zip(runs, episodes, strict=True):
        temps = [r.temperature_centi_c for r in run]
        out.append(Excursion(episode, min(temps), max(temps)))
    return out


def excursion_event(
    excursion: Excursion,
    *,
    device_id: str,
    epcs: Sequence[str],
    biz_transactions: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """The ObjectEvent (OBSERVE, sensor_reporting) reporting one closed excursion."""
    episode = excursion.episode
    event = sensor_observation(
        start_ms=episode.start_ms,
        end_ms=episode.end_ms,
        device_id=device_id,
        epcs=epcs,
        biz_transactions=biz_transactions,
        metadata={"dataProcessingMethod": EXCURSION_METHOD},
        reports=[
            {
                "type": "Temperature",
                "exception": ALARM,
                # The peak is one of these two: maxValue when warm, minValue when cold.
                "minValue": centi(excursion.min_centi_c),
                "maxValue": centi(excursion.max_centi_c),
                "uom": "CEL",
            }
        ],
        # The context names the ct: prefix of the minutes field.
        context=True,
    )
    # Counted as core.sla counts it (after grace), rounded up per episode.
    event[CT_EXCURSION_MINUTES] = episode.counted_minutes
    return event


def device_excursions(
    session: Session, shipment_pk: int, address: str, policy: SlaPolicy
) -> list[Excursion]:
    """The closed excursions of one device's stored readings in a shipment."""
    temp = Reading.temperature_centi_c
    bad = or_(temp < policy.min_centi_c, temp > policy.max_centi_c)
    mine = (Reading.shipment_id == shipment_pk, Reading.device_address == address)
    # Most devices never leave the band: one EXISTS instead of loading their readings.
    if not session.scalar(select(select(Reading.id).where(*mine, bad).exists())):
        return []
    rows = session.execute(
        select(Reading.seq, Reading.taken_at_ms, Reading.temperature_centi_c).where(*mine)
    ).all()
    return closed_excursions([SlaReading(s, t, c) for s, t, c in rows], policy)
