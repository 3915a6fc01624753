"""Every roll-up event the gateway stores (windows, a late reading's supplement, an excursion) is
hashed by the unpatched reference tool to the stored hash."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.epcis.sensor_events import DATA_PROCESSING_METHOD, SUPPLEMENT_METHOD
from iot_gateway.excursions import EXCURSION_METHOD
from iot_gateway.rollup import rollup_once
from iot_gateway.settings import GatewaySettings
from store.models import Event
from tests.core.epcis.reference_oracle import reference_event_hash
from tests.iot_gateway.test_gateway_excursions import LATER
from tests.iot_gateway.test_gateway_excursions import _insert as insert_readings
from tests.iot_gateway.test_gateway_excursions import _shipment as shipment_with_terms


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_reference_hashes_every_roll_up_event(
    db_sessions: sessionmaker[Session], make_settings: Callable[..., GatewaySettings], db_url: str
) -> None:
    settings = make_settings(db_url, window_readings=5)
    shipment_pk, device = shipment_with_terms(db_sessions)
    # An excursion (9.5 degC, band 2-8) and seq 7 missing: it arrives after its window.
    temps = {seq: 950 if 3 <= seq < 9 else 500 for seq in range(15) if seq != 7}
    insert_readings(db_sessions, device, shipment_pk, temps)
    rollup_once(db_sessions, settings, now_ms=LATER)
    insert_readings(db_sessions, device, shipment_pk, {7: 950})
    rollup_once(db_sessions, settings, now_ms=LATER)

    with db_sessions() as session:
        stored = list(session.scalars(select(Event).order_by(Event.id)))
    methods = []
    for event in stored:
        body = json.loads(event.event_json)
        methods.append(body["sensorElementList"][0]["sensorMetadata"]["dataProcessingMethod"])
        assert reference_event_hash(body) == bytes(event.event_hash), body
    assert {DATA_PROCESSING_METHOD, SUPPLEMENT_METHOD, EXCURSION_METHOD} <= set(methods)
