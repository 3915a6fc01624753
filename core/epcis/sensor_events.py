"""One window of one device's readings as an EPCIS 2.0 ObjectEvent with a sensorElementList.

The event commits to the exact signed readings it summarises: sensorMetadata.rawData is
`urn:chaintrace:evidence-root:v1:0x<root>`, where root is core.evidence.evidence_root over the
window's EIP-712 reading digests (the same StandardMerkleTree construction as a delivery
attestation's evidenceRoot), so any single reading can be proven part of the window.

A reading that arrives after its window was recorded gets a supplementary event of its own
(dataProcessingMethod SUPPLEMENT_METHOD, `ct:supplements` naming the original event's hash as a
CBV 2.0 event ID): the original event, already hashed and maybe anchored, is never rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.epcis.events import iso_ms
from core.epcis.extension import event_context
from core.epcis.hashing import event_id
from core.evidence import evidence_root
from core.hexstr import hex0x

RAW_DATA_PREFIX = "urn:chaintrace:evidence-root:v1:"
DATA_PROCESSING_METHOD = "urn:chaintrace:sensor-rollup:v1"
SUPPLEMENT_METHOD = DATA_PROCESSING_METHOD + ":supplement"
CT_SUPPLEMENTS = "ct:supplements"
BIZ_STEP = "sensor_reporting"


@dataclass(frozen=True, slots=True)
class WindowSample:
    """The integer fields of one stored reading the summary uses."""

    seq: int
    taken_at_ms: int
    temperature_centi_c: int
    humidity_centi_pct: int
    digest: bytes


def centi(value: int) -> float:
    """A value in hundredths (0.01 degC, 0.01 %) as the event's number."""
    # Two decimals from integers: exact to the reading's resolution, same text every run.
    return round(value / 100, 2)


def _stats(values: Sequence[int]) -> dict[str, float]:
    return {
        "minValue": centi(min(values)),
        "maxValue": centi(max(values)),
        "meanValue": centi(round(sum(values) / len(values))),
    }


def device_uri(chain_id: int, address: str) -> str:
    """The device's id as a DID for an EVM account (did:pkh, CAIP-10), lowercase address."""
    return f"did:pkh:eip155:{chain_id}:{address.lower()}"


def supplement_event(
    *,
    samples: Sequence[WindowSample],
    device_id: str,
    epcs: Sequence[str],
    supplements: bytes,
    biz_transactions: Sequence[dict[str, str]] = (),
) -> dict[str, Any]:
    """The ObjectEvent for late readings of the window recorded as event hash `supplements`."""
    body = window_event(
        samples=samples,
        device_id=device_id,
        epcs=epcs,
        biz_transactions=biz_transactions,
        method=SUPPLEMENT_METHOD,
    )
    # The context names the ct: prefix for the hash; it is not hashed itself.
    return {
        "@context": event_context(),
        **body,
        CT_SUPPLEMENTS: event_id(supplements),
    }


def window_event(
    *,
    samples: Sequence[WindowSample],
    device_id: str,
    epcs: Sequence[str],
    biz_transactions: Sequence[dict[str, str]] = (),
    method: str = DATA_PROCESSING_METHOD,
) -> dict[str, Any]:
    """The ObjectEvent (action OBSERVE, bizStep sensor_reporting) summarising one window."""
    if not samples:
        raise ValueError("a window needs at least one reading")
    root = evidence_root([s.digest for s in samples])
    return sensor_observation(
        start_ms=min(s.taken_at_ms for s in samples),
        end_ms=max(s.taken_at_ms for s in samples),
        device_id=device_id,
        epcs=epcs,
        biz_transactions=biz_transactions,
        metadata={"rawData": RAW_DATA_PREFIX + hex0x(root), "dataProcessingMethod": method},
        reports=[
            {
                # Bare CBV terms: the canonical hash expands them to https://gs1.org/voc/...,
                # whereas a "gs1:" compact IRI would be hashed as written.
                "type": "Temperature",
                **_stats([s.temperature_centi_c for s in samples]),
                "uom": "CEL",
            },
            {
                # P1 is percent (UN/CEFACT); A93 would be g/m3, absolute humidity.
                "type": "RelativeHumidity",
                **_stats([s.humidity_centi_pct for s in samples]),
                "uom": "P1",
            },
        ],
    )


def sensor_observation(
    *,
    start_ms: int,
    end_ms: int,
    device_id: str,
    epcs: Sequence[str],
    biz_transactions: Sequence[dict[str, str]],
    metadata: dict[str, str],
    reports: list[dict[str, Any]],
    context: bool = False,
) -> dict[str, Any]:
    """An ObjectEvent (OBSERVE, sensor_reporting) with one device's sensorElement over a span."""
    # Key order is part of the stored JSON (see core.epcis.events.dump): keep it.
    event: dict[str, Any] = {"@context": event_context()} if context else {}
    event.update(
        {
            "type": "ObjectEvent",
            "eventTime": iso_ms(end_ms),
            "eventTimeZoneOffset": "+00:00",
            "epcList": sorted(epcs),
            "action": "OBSERVE",
            "bizStep": BIZ_STEP,
        }
    )
    if biz_transactions:
        event["bizTransactionList"] = list(biz_transactions)
    event["sensorElementList"] = [
        {
            "sensorMetadata": {
                "startTime": iso_ms(start_ms),
                "endTime": iso_ms(end_ms),
                "deviceID": device_id,
                **metadata,
            },
            "sensorReport": reports,
        }
    ]
    return event
