"""The demo's data, made the way `chaintrace demo` makes it (chaintrace/demo.py: the Story over
HTTP and MQTT against the platform's API, gateway and workers), up to the first shipment received
and every event final; and what the public must never see of it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from eth_account import Account
from sqlalchemy import select

from chain.toolchain.deploy import Deployment
from chaintrace.bootstrap import create_admin_key
from chaintrace.checks import wait_all_final
from chaintrace.embedded import EmbeddedServices, start_embedded
from chaintrace.platform import Endpoints, Platform
from chaintrace.story import COMPANY_PREFIX, GTIN, MINUTE_MS, SERIALS, Story
from core.digital_link import build_link
from core.epcis.events import SHIPMENT_URN
from core.epcis.hashing import event_id
from core.epcis.projection import projected_epcs, projection, projection_hash
from core.gs1 import sgtin_urn
from store.db import make_engine, session_factory
from store.models import Device, Event, Location, Reading, Shipment
from tests.utils.mosquitto import mqtt_broker_url

CONFIRMATIONS = 2
ITEM_SERIAL = SERIALS[0]  # the item the demo prints a QR code for


@dataclass
class DemoItem:
    """The demo's first item as the public gets it, and the store it was built in."""

    api_url: str
    link: str
    database_url: str
    services: EmbeddedServices
    story: Story
    html: str = ""
    json_text: str = ""
    # (what it is, the text) of everything the public view must not show
    secrets: list[tuple[str, str]] = field(default_factory=list)

    @property
    def deployment(self) -> Deployment:
        return self.services.deployment

    def view(self) -> dict[str, object]:
        return dict(json.loads(self.json_text))


def _play_first_trip(story: Story) -> None:
    """chaintrace.demo._play's steps up to the buyer's receiving (the webhook left out)."""
    p = story.parties
    story.onboard()
    story.brand_registers()
    story.brand_commissions()
    story.brand_captures_epcis()
    story.carrier_registers_devices()
    story.buyer_agrees_and_funds()
    story.record("shipping", story.begin_trip(), p.carrier_key)
    story.devices_publish()
    n = story.readings_per_device
    story.record("arriving", story.t0_ms + (n + 1) * MINUTE_MS, p.carrier_key)
    story.record("receiving", story.t0_ms + (n + 3) * MINUTE_MS, p.buyer_key)


def _coordinates(value: float) -> str:
    """A coordinate at 3 decimals: finer than the 2 the public may see (about 1 km)."""
    return f"{value:.3f}"


def _is_own_projection(event: dict[str, object], digest: bytes, public: set[str]) -> bool:
    """Whether the event is exactly its one EPC's public projection: its full hash is then that
    projection's hash and says nothing more (DESIGN.md forbids those of multi-EPC events)."""
    epcs = projected_epcs(event)
    if len(epcs) != 1:
        return False
    return projection_hash(projection(event, epcs[0].epc, public)) == digest


def secrets_of(database_url: str, story: Story) -> list[tuple[str, str]]:
    """Every other serial and EPC, device id, party wallet, shipment id, full event hash, eventID
    and exact position in the store."""
    found: list[tuple[str, str]] = []
    for serial in SERIALS:
        if serial == ITEM_SERIAL:
            continue
        epc = sgtin_urn(GTIN, serial, len(COMPANY_PREFIX))
        found += [
            ("other serial", serial),
            ("other serial, escaped", quote(serial, safe="")),
            ("other EPC", epc),
        ]
    for account in (story.acc.carrier, story.acc.buyer):
        found.append(("party wallet", account.address))
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            public = set(s.scalars(select(Location.location_id).where(Location.public)))
            for address in s.scalars(select(Device.address)):
                found.append(("device", address))
            for shipment_id in s.scalars(select(Shipment.shipment_id)):
                found += [("shipment id", shipment_id), ("shipment id", shipment_id[2:])]
            for digest, text in s.execute(select(Event.event_hash, Event.event_json)):
                body = json.loads(text)
                if not _is_own_projection(body, bytes(digest), public):
                    found += [
                        ("event hash", bytes(digest).hex()),
                        ("event ni", event_id(digest)),
                    ]
                if isinstance(body.get("eventID"), str):
                    found.append(("eventID", body["eventID"]))
                for geo in re.findall(r"geo:(-?\d+\.\d+),(-?\d+\.\d+)", text):
                    found += [("event GPS", _coordinates(float(v))) for v in geo]
            for lat, lon in s.execute(select(Reading.lat_e7, Reading.lon_e7).distinct()):
                found += [("reading GPS", _coordinates(v / 1e7)) for v in (lat, lon)]
    finally:
        engine.dispose()
    found.append(("shipment URN", SHIPMENT_URN))
    found.append(("device id", "did:pkh:"))
    for address in (Account.from_key(k).address for k in story.device_keys):
        found.append(("device", address))
    return sorted(set(found))


def leaks(text: str, secrets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The secrets that appear in `text` (case-insensitive: hex and addresses have two cases)."""
    folded = text.lower()
    return [(what, value) for what, value in secrets if value.lower() in folded]


@pytest.fixture(scope="module")
def demo_item(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoItem]:
    """The demo's first shipment played on SQLite, Mosquitto and anvil; every event final."""
    state = tmp_path_factory.mktemp("demo")
    with mqtt_broker_url(state / "mosquitto") as mqtt_url:
        services = start_embedded(state / "state", mqtt_url=mqtt_url, mqtt_protocol="5")
        platform = None
        try:
            overrides = {"finality": "confirmations", "confirmations": CONFIRMATIONS}
            platform = Platform.for_dev(Endpoints.of(services), overrides=overrides).start()
            admin_key = create_admin_key(
                services.database_url, "demo admin", services.accounts.admin.address
            )
            story = Story(
                platform.api_url,
                services.w3(),
                services.deployment,
                services.accounts,
                admin_key,
                services.mqtt_url,
                services.mqtt_protocol,
            )
            _play_first_trip(story)
            engine = make_engine(services.database_url)
            try:
                wait_all_final(session_factory(engine), timeout=180)
            finally:
                engine.dispose()
            link = build_link("", GTIN, ITEM_SERIAL)
            item = DemoItem(platform.api_url, link, services.database_url, services, story)
            html = story.http.get(link, headers={"Accept": "text/html"})
            as_json = story.http.get(link, headers={"Accept": "application/json"})
            assert html.status_code == 200 and as_json.status_code == 200
            item.html, item.json_text = html.text, as_json.text
            item.secrets = secrets_of(services.database_url, story)
            yield item
        finally:
            if platform is not None:
                platform.stop()
            services.stop()
