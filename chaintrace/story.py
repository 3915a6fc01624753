"""The demo's story, acted out through the HTTP API, MQTT and users' own wallets."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3

from chain.toolchain.deploy import Deployment
from chaintrace.demo_content import content_bodies
from chaintrace.embedded import DevAccounts
from core.eip712 import anchor_domain, reading_digest
from core.gs1 import sgln_urn, sgtin_urn
from core.hexstr import hex0x
from device.client import DeviceClient, SimulatedDevice
from device.mqtt_link import parse_mqtt_url

_LOGGER = logging.getLogger(__name__)

COMPANY_PREFIX = "0614141"
GTIN = "00614141000012"  # GS1's own example prefix; check digit valid
SERIALS = [f"LOT7/{n:03d}+A%" for n in range(1, 11)]  # '/', '+' and '%' on purpose
BAND = (200, 800)  # 2.00 .. 8.00 degC
MINUTE_MS = 60_000
# The brand's public places (location master data): the item page names them, at ~1 km.
PLANT = "urn:epc:id:sgln:0614141.00001.0"
CLINIC = "urn:epc:id:sgln:0614141.00002.0"
PLACES: dict[str, dict[str, object]] = {
    PLANT: {"name": "Acme Cold Foods plant, Rotterdam", "latitude": 51.9, "longitude": 4.48},
    CLINIC: {"name": "City Clinic, Utrecht", "latitude": 52.09, "longitude": 5.12},
}
# Where each step of the first shipment happens.
STEP_PLACE = {"shipping": PLANT, "arriving": CLINIC, "receiving": CLINIC}


class StoryError(RuntimeError):
    """A step of the story failed; the message says which and why."""


@dataclass
class Parties:
    """The users' API keys and wallets."""

    admin_key: str
    brand_key: str = ""
    carrier_key: str = ""
    buyer_key: str = ""
    carrier_id: int = 0
    arbiter_key: str = ""  # only in the dispute story


@dataclass
class StoryResult:
    """What happened, for the summary and the checks."""

    shipment_id: str = ""
    items: list[tuple[str, str]] = field(default_factory=list)
    readings_sent: int = 0
    excursion_readings: int = 0
    amount_wei: int = 0
    captured_job: str = ""  # the EPCIS capture job's URL
    fund_tx: str = ""
    withdraw_tx: str = ""
    withdrawn_wei: int = 0
    # (device, seq, EIP-712 digest 0x-hex) of each reading logged out of band
    hot_readings: list[tuple[str, int, str]] = field(default_factory=list)
    # the dispute story only
    dispute_tx: str = ""
    evidence_tx: str = ""
    evidence_digest: str = ""
    resolve_tx: str = ""
    arbiter_payout_wei: int = 0
    buyer_withdraw_tx: str = ""
    buyer_withdrawn_wei: int = 0


def sign_typed(account: LocalAccount | bytes, typed: dict[str, Any]) -> str:
    """Sign an EIP-712 payload exactly as a wallet's eth_signTypedData_v4 would."""
    signer = account if isinstance(account, LocalAccount) else Account.from_key(account)
    signed = signer.sign_message(encode_typed_data(full_message=typed))
    return hex0x(signed.signature)


def demo_terms(now: int, amount_wei: int) -> dict[str, Any]:
    """The demo's SLA terms (the API's body): 2-8 degC, 2 minutes' grace, then 1 % of the deposit
    a minute up to 30 %; a day to deliver, a day's refund grace, an hour to dispute."""
    return {
        "amountWei": str(amount_wei),  # uint256 as a decimal string
        "minTempCentiC": BAND[0],
        "maxTempCentiC": BAND[1],
        "graceMinutes": 2,
        "penaltyBpsPerMinute": 100,
        "penaltyCapBps": 3000,
        "maxGapMinutes": 5,
        "deadline": now + 86_400,
        "refundGrace": 86_400,
        "disputeWindow": 3_600,
    }


class Story:
    """Each step is what one user does; `run` plays them in order."""

    def __init__(
        self,
        api_url: str,
        w3: Web3,
        deployment: Deployment,
        accounts: DevAccounts,
        admin_key: str,
        mqtt_url: str,
        mqtt_protocol: str,
        *,
        readings_per_device: int = 40,
    ) -> None:
        self.http = httpx.Client(base_url=api_url, timeout=30)
        self.w3 = w3
        self.deployment = deployment
        self.acc = accounts
        self.parties = Parties(admin_key=admin_key)
        self.mqtt_url = mqtt_url
        self.mqtt_protocol = mqtt_protocol
        self.readings_per_device = readings_per_device
        self.device_keys = [secrets.token_bytes(32) for _ in range(2)]
        self.result = StoryResult()
        self.arbiter: LocalAccount | None = None  # the dispute story's arbiter wallet
        # The second shipment (chaintrace.arrival_story.ArrivalTrip, which builds on this class),
        # once played.
        self.arrival: object | None = None
        self.t0_ms = self.begin_trip()

    def begin_trip(self) -> int:
        """Date the trip (t0_ms, returned) so it ended in the recent past: devices publish their
        logged readings now. Called again right before shipping is recorded, since the API
        refuses a shipping event backdated more than EVENT_MAX_BACKDATE_SECONDS (1 h)."""
        now_ms = int(time.time() * 1000)
        self.t0_ms = now_ms - (self.readings_per_device + 15) * MINUTE_MS
        return self.t0_ms

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, path: str, key: str, **kw: Any) -> Any:
        r = self.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
        if r.status_code >= 400:
            raise StoryError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json()

    def _send_unsigned(self, account: LocalAccount, unsigned: dict[str, Any]) -> str:
        """The user's wallet: fill nonce and fees, sign, send, wait for success."""
        tx = dict(unsigned["tx"])
        tx.setdefault("from", account.address)
        tx["nonce"] = self.w3.eth.get_transaction_count(account.address, "pending")
        tx["chainId"] = self.w3.eth.chain_id
        for k in ("value", "gas", "maxFeePerGas", "maxPriorityFeePerGas"):
            if isinstance(tx.get(k), str):
                tx[k] = int(tx[k], 0)
        if "gas" not in tx:
            tx["gas"] = int(self.w3.eth.estimate_gas(tx) * 1.25)  # type: ignore[arg-type]
        if "maxFeePerGas" not in tx and "gasPrice" not in tx:
            base = self.w3.eth.get_block("latest")["baseFeePerGas"]
            tx["maxPriorityFeePerGas"] = 10**9
            tx["maxFeePerGas"] = 2 * base + 10**9
        tx.pop("from", None)
        signed = account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            raise StoryError(f"{unsigned.get('description')}: transaction reverted")
        return hex0x(tx_hash)

    # -- the story -------------------------------------------------------------------------

    def onboard(self) -> None:
        """The platform admin creates the brand, the carrier and the buyer with their wallets."""
        p = self.parties
        for role, account, attr in (
            ("brand", self.acc.brand, "brand_key"),
            ("carrier", self.acc.carrier, "carrier_key"),
            ("buyer", self.acc.buyer, "buyer_key"),
        ):
            body = {"name": f"demo {role}", "role": role, "walletAddress": account.address}
            created = self._call("POST", "/principals", p.admin_key, json=body)
            setattr(p, attr, created["apiKey"])
            if role == "carrier":
                p.carrier_id = created["id"]

    def brand_registers(self) -> None:
        """The brand claims its prefix; the platform admin registers it on chain; the brand adds
        its product and the product's content in English and Simplified Chinese."""
        body = {"companyPrefix": COMPANY_PREFIX, "name": "Acme Cold Foods"}
        self._call("POST", "/brands", self.parties.brand_key, json=body)
        tx = self._call("GET", f"/brands/{COMPANY_PREFIX}/registration-tx", self.parties.admin_key)
        self._send_unsigned(self.acc.admin, tx)
        self._call(
            "POST", "/products", self.parties.brand_key, json={"gtin": GTIN, "name": "Vaccine vial"}
        )
        for lang, body in content_bodies().items():  # what the item page shows, per language
            self._call("PUT", f"/products/{GTIN}/content/{lang}", self.parties.brand_key, json=body)
        for place, fields in PLACES.items():
            located = {**fields, "public": True}
            self._call("PUT", f"/locations/{place}", self.parties.brand_key, json=located)

    def brand_commissions(self) -> None:
        """The brand commissions 10 serials and signs their commissioning root."""
        draft = self._call(
            "POST",
            f"/products/{GTIN}/items",
            self.parties.brand_key,
            json={
                "serials": SERIALS,
                "eventTime": _iso(self.t0_ms - 30 * MINUTE_MS),
                "bizLocation": PLANT,
            },
        )
        sig = sign_typed(self.acc.brand, draft["typedData"])
        self._call(
            "POST",
            f"/commissionings/{draft['id']}/signature",
            self.parties.brand_key,
            json={"signature": sig},
        )
        self.result.items = [(GTIN, s) for s in SERIALS]

    def brand_captures_epcis(self) -> None:
        """The brand's own EPCIS system sends an inspection of two items to the standard
        interface (GS1 EPCIS 2.0 REST binding: POST /epcis/capture, then the capture job)."""
        epcs = [sgtin_urn(GTIN, s, len(COMPANY_PREFIX)) for s in SERIALS[:2]]
        document = {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": _iso(self.t0_ms - 20 * MINUTE_MS),
            "epcisBody": {
                "eventList": [
                    {
                        "type": "ObjectEvent",
                        "eventTime": _iso(self.t0_ms - 20 * MINUTE_MS),
                        "eventTimeZoneOffset": "+00:00",
                        "epcList": epcs,
                        "action": "OBSERVE",
                        "bizStep": "inspecting",
                        "disposition": "active",
                        "readPoint": {"id": sgln_urn("0614141000005", "1", len(COMPANY_PREFIX))},
                    }
                ]
            },
        }
        response = self.http.post(
            "/epcis/capture",
            json=document,
            headers={"Authorization": f"Bearer {self.parties.brand_key}"},
        )
        if response.status_code != 202:
            raise StoryError(
                f"POST /epcis/capture -> {response.status_code}: {response.text[:500]}"
            )
        job = self._call("GET", response.headers["Location"], self.parties.brand_key)
        if not job.get("success") or job.get("running"):
            raise StoryError(f"the capture job did not succeed: {job}")
        self.result.captured_job = response.headers["Location"]

    def carrier_registers_devices(self) -> None:
        """The carrier registers two loggers, each proving possession of its key."""
        for key in self.device_keys:
            address = Account.from_key(key).address
            typed = self._call(
                "GET",
                "/devices/registration-typed-data",
                self.parties.carrier_key,
                params={"address": address},
            )
            body = {
                "address": address,
                "label": "cold-chain logger",
                "signature": sign_typed(key, typed),
            }
            self._call("POST", "/devices", self.parties.carrier_key, json=body)

    def buyer_agrees_and_funds(
        self, amount_wei: int = 10**18, arbiter: str | None = None, dispute_timeout: int = 0
    ) -> None:
        """Buyer and carrier sign the SLA terms; the buyer funds the escrow from its wallet."""
        terms = demo_terms(int(time.time()), amount_wei)
        if arbiter is not None:  # without one the attestation cannot be disputed
            terms |= {"arbiter": arbiter, "disputeTimeout": dispute_timeout}
        body = {
            "carrier": self.parties.carrier_id,
            "payee": self.acc.carrier.address,
            "items": [{"gtin": g, "serial": s} for g, s in self.result.items],
            "devices": [Account.from_key(k).address for k in self.device_keys],
            "origin": PLANT,
            "destination": CLINIC,
            "terms": terms,
        }
        created = self._call("POST", "/shipments", self.parties.buyer_key, json=body)
        sid = created["shipmentId"]
        self.result.shipment_id = sid
        self.result.amount_wei = amount_wei
        # The brand holds the items it commissioned: it consents to their shipment.
        self._call("POST", f"/shipments/{sid}/custody-approval", self.parties.brand_key)
        for account, key in (
            (self.acc.buyer, self.parties.buyer_key),
            (self.acc.carrier, self.parties.carrier_key),
        ):
            sig = sign_typed(account, created["typedData"])
            self._call("POST", f"/shipments/{sid}/signatures", key, json={"signature": sig})
        tx = self._call("GET", f"/shipments/{sid}/funding-tx", self.parties.buyer_key)
        self.result.fund_tx = self._send_unsigned(self.acc.buyer, tx)
        # The API shows the deposit once the platform's chain follower has read it.
        block = int(self.w3.eth.get_transaction_receipt(HexStr(self.result.fund_tx))["blockNumber"])
        shipment = self.followed(f"/shipments/{sid}", block)
        if shipment["status"] != "funded" or shipment["escrow"]["state"] != "funded":
            raise StoryError(f"the API does not show the deposit as of block {block}: {shipment}")

    def followed(self, path: str, block: int, wait_s: float = 120) -> dict[str, Any]:
        """GET `path` (as the buyer) once the chain follower behind it has read `block`.

        The API shows escrow state as the follower read it, with the block (asOfBlock, at the
        top or under `escrow`); a block the follower has not reached yet is waited for.
        """
        deadline = time.monotonic() + wait_s
        while True:
            answer: dict[str, Any] = self._call("GET", path, self.parties.buyer_key)
            at = answer.get("asOfBlock", (answer.get("escrow") or {}).get("asOfBlock"))
            if at is not None and at >= block:
                return answer
            if time.monotonic() > deadline:
                raise StoryError(f"GET {path}: the chain follower did not reach block {block}")
            time.sleep(0.3)

    def record(self, biz_step: str, at_ms: int, key: str, shipment_id: str = "") -> None:
        """A party records shipping / arriving / receiving for the shipment (default: the
        first, at the step's public place)."""
        body = {"bizStep": biz_step, "eventTime": _iso(at_ms)}
        if not shipment_id and biz_step in STEP_PLACE:
            body["bizLocation"] = STEP_PLACE[biz_step]
        self._call(
            "POST", f"/shipments/{shipment_id or self.result.shipment_id}/events", key, json=body
        )

    def devices_publish(self) -> None:
        """Both loggers publish their signed readings over MQTT; one rode through an excursion."""
        domain = anchor_domain(self.deployment.chain_id, self.deployment.trace_anchor)
        endpoint = parse_mqtt_url(self.mqtt_url)
        for d, key in enumerate(self.device_keys):
            device = SimulatedDevice(key, domain)
            client = DeviceClient(device, endpoint, protocol=self.mqtt_protocol)  # type: ignore[arg-type]
            client.connect()
            try:
                last = -1
                for i in range(self.readings_per_device):
                    hot = d == 0 and 15 <= i < 23  # device 0: eight minutes at 9.5 degC
                    temp = 950 if hot else 450 + (i % 5) * 10
                    self.result.excursion_readings += hot
                    reading, _info = client.publish_reading(
                        temperature_centi_c=temp,
                        taken_at_ms=self.t0_ms + (i + 1) * MINUTE_MS,
                        lat_e7=523_700_000 + i * 1000,
                        lon_e7=48_900_000 + i * 1000,
                    )
                    last = reading.seq
                    if hot:
                        digest = hex0x(reading_digest(reading, domain))
                        self.result.hot_readings.append((device.address, reading.seq, digest))
                    self.result.readings_sent += 1
                if not client.wait_acked(last, timeout=60):
                    raise StoryError(f"device {device.address}: gateway did not ack seq {last}")
            finally:
                client.close()

    def payee_withdraws(self, wait_s: float = 120) -> None:
        """After settlement, the carrier pulls its payout from the escrow with its own wallet."""
        tx, owed = self._withdraw(self.acc.carrier, self.parties.carrier_key, "carrier", wait_s)
        self.result.withdraw_tx, self.result.withdrawn_wei = tx, owed

    def buyer_withdraws(self, wait_s: float = 120) -> None:
        """After settlement, the buyer pulls its refund from the escrow with its own wallet."""
        tx, owed = self._withdraw(self.acc.buyer, self.parties.buyer_key, "buyer", wait_s)
        self.result.buyer_withdraw_tx, self.result.buyer_withdrawn_wei = tx, owed

    def _withdraw(
        self, account: LocalAccount, key: str, who: str, wait_s: float
    ) -> tuple[str, int]:
        """The wallet sends the withdraw GET /withdraw-tx prepares, once the escrow owes it."""
        deadline = time.monotonic() + wait_s
        while True:
            r = self.http.get(
                "/withdraw-tx?escrowVersion=1", headers={"Authorization": f"Bearer {key}"}
            )
            if r.status_code == 200:
                break
            if r.status_code != 409 or time.monotonic() > deadline:
                raise StoryError(f"nothing owed to the {who}: {r.status_code} {r.text[:300]}")
            time.sleep(0.5)
        prepared = r.json()
        return self._send_unsigned(account, prepared), int(prepared["owedWei"])

    # -- the dispute story (an arbiter named in the terms) ----------------------------------

    def arbiter_onboards(self, arbiter: LocalAccount) -> None:
        """The platform admin creates the arbiter (an auditor) with its own wallet."""
        body = {"name": "demo arbiter", "role": "auditor", "walletAddress": arbiter.address}
        created = self._call("POST", "/principals", self.parties.admin_key, json=body)
        self.parties.arbiter_key = created["apiKey"]
        self.arbiter = arbiter

    def buyer_disputes(self) -> None:
        """After the attestation, the buyer opens a dispute from its own wallet."""
        sid = self.result.shipment_id
        tx = self._call("GET", f"/shipments/{sid}/dispute/open-tx", self.parties.buyer_key)
        self.result.dispute_tx = self._send_unsigned(self.acc.buyer, tx)

    def buyer_submits_evidence(self) -> None:
        """The buyer puts the first out-of-band reading on record, proven to the evidence root."""
        if not self.result.hot_readings:
            raise StoryError("no reading was logged out of band: nothing to submit as evidence")
        device, seq, digest = self.result.hot_readings[0]
        tx = self._call(
            "POST",
            f"/shipments/{self.result.shipment_id}/dispute/evidence-tx",
            self.parties.buyer_key,
            json={"device": device, "seq": seq},
        )
        self.result.evidence_tx = self._send_unsigned(self.acc.buyer, tx)
        self.result.evidence_digest = digest

    def arbiter_resolves(self, payout_wei: int) -> None:
        """The arbiter splits the deposit: `payout_wei` to the carrier, the rest to the buyer."""
        if self.arbiter is None:
            raise StoryError("no arbiter was onboarded")
        tx = self._call(
            "POST",
            f"/shipments/{self.result.shipment_id}/dispute/resolve-tx",
            self.parties.arbiter_key,
            json={"payoutWei": str(payout_wei)},
        )
        self.result.resolve_tx = self._send_unsigned(self.arbiter, tx)
        self.result.arbiter_payout_wei = payout_wei


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
