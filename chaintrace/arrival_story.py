"""The demo's second shipment: escrow v2, paid on the devices' arrival with the consignee silent.

The buyer sends two of the received items on by the same carrier under Terms v2: the carrier
(also the payee) signs, the destination fence is the shop's, auto-accept one hour after arrival,
the platform admin named as arbiter. The same two loggers ride along and publish live readings:
first on the road, then inside the fence. Nobody records receiving; once the chain's clock has
passed arrival + autoAcceptAfter, the oracle attests with deliveryBasis 1 at the arrival time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_typing import HexStr

from chain.clients import ShipmentEscrowV2Client
from chaintrace.story import Story, StoryError, demo_terms, sign_typed
from core.eip712 import anchor_domain
from core.hexstr import hex0x
from device.client import DeviceClient, SimulatedDevice
from device.mqtt_link import parse_mqtt_url

# The shop: the destination fence (WGS84 x 1e7), and a point on the road 30 km away.
SHOP = (525_200_000, 134_050_000)
ROAD = (522_500_000, 134_050_000)
RADIUS_M = 300
AUTO_ACCEPT_S = 3_600
READINGS_ON_ROAD, READINGS_AT_SHOP = 4, 4
READING_INTERVAL_S = 1.0


@dataclass
class ArrivalResult:
    """What the second shipment did, for the checks."""

    shipment_id: str = ""
    amount_wei: int = 0
    fund_tx: str = ""
    arrival_ms: int = 0  # the first in-fence reading of the later logger
    readings_sent: int = 0
    withdraw_tx: str = ""
    withdrawn_wei: int = 0


class ArrivalTrip:
    """The second shipment's steps, by the same users as `story`."""

    def __init__(self, story: Story, items: int = 2) -> None:
        self.story = story
        self.items = story.result.items[:items]
        self.result = ArrivalResult()
        address = story.deployment.shipment_escrow_v2
        if address is None:
            raise StoryError("ShipmentEscrow v2 is not deployed")
        self.escrow = ShipmentEscrowV2Client(story.w3, address)

    def buyer_agrees_and_funds(self, amount_wei: int = 5 * 10**17) -> None:
        """Terms v2 signed by buyer and carrier (= payee); the buyer funds escrow v2."""
        s, p, acc = self.story, self.story.parties, self.story.acc
        now = max(int(time.time()), int(s.w3.eth.get_block("latest")["timestamp"]))
        body: dict[str, Any] = {
            "carrier": p.carrier_id,
            "payee": acc.carrier.address,
            "items": [{"gtin": g, "serial": sn} for g, sn in self.items],
            "devices": [Account.from_key(k).address for k in s.device_keys],
            "origin": "urn:epc:id:sgln:0614141.00002.0",
            "destination": "urn:epc:id:sgln:0614141.00003.0",
            "destinationGeofence": {"latE7": SHOP[0], "lonE7": SHOP[1], "radiusM": RADIUS_M},
            "terms": demo_terms(now, amount_wei)
            | {"arbiter": acc.admin.address, "disputeTimeout": 86_400},
            "escrowV2": {
                "oracle": acc.oracle.address,
                "fundBy": now + 3_600,
                "arrivalDwellMinutes": 0,
                "autoAcceptAfter": AUTO_ACCEPT_S,
            },
        }
        created = s._call("POST", "/shipments", p.buyer_key, json=body)
        sid = created["shipmentId"]
        self.result.shipment_id, self.result.amount_wei = sid, amount_wei
        for account, key in ((acc.buyer, p.buyer_key), (acc.carrier, p.carrier_key)):
            sig = sign_typed(account, created["typedData"])
            s._call("POST", f"/shipments/{sid}/signatures", key, json={"signature": sig})
        tx = s._call("GET", f"/shipments/{sid}/funding-tx", p.buyer_key)
        self.result.fund_tx = s._send_unsigned(acc.buyer, tx)
        block = int(s.w3.eth.get_transaction_receipt(HexStr(self.result.fund_tx))["blockNumber"])
        shown = s.followed(f"/shipments/{sid}", block)
        if shown["status"] != "funded" or shown["escrowVersion"] != 2:
            raise StoryError(f"the API does not show the v2 deposit as of block {block}")

    def carrier_ships(self) -> None:
        """The carrier records shipping now (the window starts at it, or at funding)."""
        s = self.story
        s.record(
            "shipping", int(time.time() * 1000), s.parties.carrier_key, self.result.shipment_id
        )

    def loggers_drive_to_the_shop(self) -> None:
        """Both loggers publish live readings: on the road, then inside the shop's fence."""
        s = self.story
        domain = anchor_domain(s.deployment.chain_id, s.deployment.trace_anchor)
        clients = []
        for key in s.device_keys:  # the same loggers: their seqs go on from the first trip
            device = SimulatedDevice(key, domain, start_seq=s.readings_per_device)
            client = DeviceClient(device, parse_mqtt_url(s.mqtt_url), protocol=s.mqtt_protocol)  # type: ignore[arg-type]
            client.connect()
            clients.append(client)
        try:
            last = -1
            for i in range(READINGS_ON_ROAD + READINGS_AT_SHOP):
                time.sleep(READING_INTERVAL_S)
                at_ms = int(time.time() * 1000)
                lat, lon = SHOP if i >= READINGS_ON_ROAD else ROAD
                if i == READINGS_ON_ROAD:
                    self.result.arrival_ms = at_ms  # both arrive together
                for client in clients:
                    reading, _ = client.publish_reading(
                        temperature_centi_c=500, taken_at_ms=at_ms, lat_e7=lat, lon_e7=lon
                    )
                    last = reading.seq
                    self.result.readings_sent += 1
                    s.result.readings_sent += 1
            for client in clients:
                if not client.wait_acked(last, timeout=60):
                    raise StoryError(f"device {client.device.address}: seq {last} not acked")
        finally:
            for client in clients:
                client.close()

    def carrier_withdraws(self, wait_s: float = 120) -> None:
        """The carrier pulls its v2 payout with its own wallet."""
        carrier = self.story.acc.carrier
        deadline = time.monotonic() + wait_s
        while self.escrow.owed(carrier.address) == 0:
            if time.monotonic() > deadline:
                raise StoryError("nothing owed to the carrier by escrow v2: never settled")
            time.sleep(0.5)
        owed = self.escrow.owed(carrier.address)
        result = self.escrow.send_withdraw(carrier)
        self.result.withdraw_tx, self.result.withdrawn_wei = hex0x(result.tx_hash), owed
