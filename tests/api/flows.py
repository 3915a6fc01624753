"""The users' side of the API in tests: principals, brands, devices, shipments, signing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event
from web3 import Web3

from chain.anchoring.worker import AnchorWorker
from chain.follower import ChainFollower, FollowReport
from chain.settings import FollowSettings
from core.gs1 import check_digit
from store.db import session_factory
from tests.utils import workers
from tests.utils.anvil import ChainEnv, latest_timestamp

PUBLIC_BASE_URL = "https://id.example.test"
SPARE_SERIALS = ("S1", "S2", "S3")
PREFIX = "0614141"
OTHER_PREFIX = "0799999"
CONFIRMATIONS = 2


def gtin13(prefix: str, item_ref: str) -> str:
    """A GTIN-13 with a valid check digit: prefix + item reference (12 digits) + check digit."""
    body = (prefix + item_ref).ljust(12, "0")[:12]
    return body + check_digit(body)


def sign_typed(account: LocalAccount, typed_data: dict[str, Any]) -> str:
    """The wallet's side: eth_signTypedData_v4 over what the API returned."""
    signed = Account.sign_typed_data(account.key, full_message=typed_data)
    return "0x" + bytes(signed.signature).hex()


def typed_message(typed_data: dict[str, Any]) -> dict[str, Any]:
    """The message with its integers back as ints (the API sends those wider than 53 bits as
    decimal strings)."""
    fields = {f["name"]: f["type"] for f in typed_data["types"][typed_data["primaryType"]]}
    return {
        name: int(value) if "int" in fields[name] and isinstance(value, str) else value
        for name, value in typed_data["message"].items()
    }


def auth(key: str) -> dict[str, str]:
    """The Authorization header for an API key."""
    return {"Authorization": f"Bearer {key}"}


def ok(response: Response, status: int = 200) -> Any:
    """The JSON body, after checking the status (the body is shown when it differs)."""
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


@dataclass
class Api:
    """A TestClient with the bootstrap admin key and the chain's dev accounts."""

    client: TestClient
    admin_key: str
    chain: ChainEnv | None
    engine: Engine
    keys: dict[str, str] = field(default_factory=dict)

    def principal(self, role: str, wallet: str | None = None, name: str | None = None) -> str:
        """Create a principal through the admin API; returns its API key."""
        body = {"name": name or f"{role} {len(self.keys) + 1}", "role": role}
        if wallet is not None:
            body["walletAddress"] = wallet
        created = ok(self.client.post("/principals", json=body, headers=auth(self.admin_key)), 201)
        self.keys[body["name"]] = created["apiKey"]
        return str(created["apiKey"])

    def principal_id(self, key: str) -> int:
        """The id of the principal behind a key."""
        return int(ok(self.client.get("/principals/me", headers=auth(key)))["id"])

    def brand(self, account: LocalAccount, prefix: str = PREFIX, name: str = "Acme Foods") -> str:
        """A brand principal with its registered prefix; returns its key."""
        key = self.principal("brand", account.address, name)
        body = {"companyPrefix": prefix, "name": name}
        ok(self.client.post("/brands", json=body, headers=auth(key)), 201)
        return key

    def product(self, key: str, gtin: str, name: str = "Cold brew 250 ml") -> dict[str, Any]:
        """Add a product as the brand."""
        body = {"gtin": gtin, "name": name}
        return dict(ok(self.client.post("/products", json=body, headers=auth(key)), 201))

    def commission(
        self, key: str, account: LocalAccount, gtin: str, serials: list[str]
    ) -> dict[str, Any]:
        """Commission serials: draft, the brand's wallet signs, signature submitted."""
        draft = ok(
            self.client.post(
                f"/products/{gtin}/items", json={"serials": serials}, headers=auth(key)
            ),
            201,
        )
        signature = sign_typed(account, draft["typedData"])
        return dict(
            ok(
                self.client.post(
                    f"/commissionings/{draft['id']}/signature",
                    json={"signature": signature},
                    headers=auth(key),
                )
            )
        )

    def device(self, key: str, operator: LocalAccount, label: str = "logger") -> LocalAccount:
        """Register a fresh device key for the carrier (proof of possession)."""
        device: LocalAccount = Account.create()
        typed = ok(
            self.client.get(
                "/devices/registration-typed-data",
                params={"address": device.address},
                headers=auth(key),
            )
        )
        assert typed["message"] == {"device": device.address, "operator": operator.address}
        body = {"address": device.address, "label": label, "signature": sign_typed(device, typed)}
        ok(self.client.post("/devices", json=body, headers=auth(key)), 201)
        return device

    def terms(self, amount_wei: int = 10**18, **overrides: Any) -> dict[str, Any]:
        """SLA terms with a deadline a day after the chain's clock."""
        assert self.chain is not None
        terms: dict[str, Any] = {
            "amountWei": str(amount_wei),  # uint256 travels as a decimal string
            "minTempCentiC": 200,
            "maxTempCentiC": 800,
            "graceMinutes": 10,
            "penaltyBpsPerMinute": 20,
            "penaltyCapBps": 5000,
            "maxGapMinutes": 30,
            "deadline": latest_timestamp(self.chain.w3) + 86_400,
            "refundGrace": 3_600,
            "disputeWindow": 7_200,
        }
        terms.update(overrides)
        return terms


def follow(api: Api) -> FollowReport:
    """Run the chain follower, as `chaintrace anchor` does, until it has read the chain's head.

    One report for all passes: the first reorg seen, every log and status move.
    """
    chain = api.chain
    assert chain is not None
    settings = FollowSettings(
        chaintrace_dev=True,
        database_url=api.engine.url.render_as_string(hide_password=False),
        follow_reorg_depth=16,
    )
    follower = ChainFollower(settings, session_factory(api.engine), chain.w3, chain.deployment)
    head = int(chain.w3.eth.block_number)
    total = FollowReport()
    while True:
        report = follower.run_once()
        total.logs += report.logs
        total.funded += report.funded
        total.unfunded += report.unfunded
        if total.reorged_from is None:
            total.reorged_from = report.reorged_from
        if report.to_block is not None:
            total.to_block = report.to_block
        if report.to_block is None or report.to_block >= head:
            return total


_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE")


def anchor_worker(api: Api, confirmations: int = CONFIRMATIONS) -> AnchorWorker:
    """The anchoring worker (`chaintrace anchor`), following the chain after each pass."""
    assert api.chain is not None
    url = api.engine.url.render_as_string(hide_password=False)
    return workers.anchor_worker(
        api.chain, url, session_factory(api.engine), confirmations=confirmations
    )


def send_tx(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> None:
    """The wallet's side: sign the unsigned transaction the API built and send it."""
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1


def register_brand_on_chain(api: Api, prefix: str = PREFIX) -> None:
    """The platform admin's wallet sends the registerBrand transaction the API prepared; the
    follower then reads it (the API reports standing from the follower's view)."""
    chain = api.chain
    assert chain is not None
    built = ok(
        api.client.get(
            f"/brands/{prefix}/registration-tx",
            params={"sender": chain.admin.address},
            headers=auth(api.admin_key),
        )
    )
    # Brands register on the TraceAnchor release new roots go to (v2), by its registrar.
    assert built["tx"]["to"] == chain.deployment.roots_anchor.address
    assert int(built["tx"]["chainId"], 16) == chain.w3.eth.chain_id  # a JSON-RPC quantity
    send_tx(chain.w3, chain.admin, built["tx"])
    follow(api)


def mine(w3: Web3, blocks: int) -> None:
    """Mine `blocks` empty blocks."""
    w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


@contextmanager
def sql_writes(engine: Engine) -> Iterator[list[str]]:
    """The INSERT/UPDATE/DELETE statements sent on `engine` inside the block (committed or not)."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in _WRITES:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def approve_custody(api: Api, custodian_key: str, shipment_id: str) -> dict[str, Any]:
    """The items' custodian (brand or last consignee) consents to the shipment."""
    url = f"/shipments/{shipment_id}/custody-approval"
    return dict(ok(api.client.post(url, headers=auth(custodian_key))))


@dataclass
class World:
    """A brand with commissioned items, two carriers, a buyer, a device and a shipment.

    `serials` are in the world's shipment; `spare` are commissioned but in no shipment (an item is
    in at most one open shipment, so a second shipment needs its own items).
    """

    api: Api
    brand_key: str
    gtin: str
    serials: list[str]
    carrier_key: str
    other_carrier_key: str
    buyer_key: str
    device: LocalAccount
    shipment_id: str
    typed_data: dict[str, Any]
    spare: list[str] = field(default_factory=lambda: list(SPARE_SERIALS))


def build_world(api: Api, serials: list[str] | None = None) -> World:
    """The standard cast; the carrier's wallet is the payee."""
    chain = api.chain
    assert chain is not None
    serials = serials or ["A1", "A2"]
    brand_key = api.brand(chain.brand)
    gtin = gtin13(PREFIX, "12345")
    api.product(brand_key, gtin)
    api.commission(brand_key, chain.brand, gtin, [*serials, *SPARE_SERIALS])
    carrier_key = api.principal("carrier", chain.payee.address, "Polar Freight")
    other_carrier_key = api.principal("carrier", chain.stranger.address, "Other Freight")
    buyer_key = api.principal("buyer", chain.buyer.address, "Corner Shop")
    device = api.device(carrier_key, chain.payee)
    body = {
        "carrier": api.principal_id(carrier_key),
        "payee": chain.payee.address,
        "items": [{"gtin": gtin, "serial": s} for s in serials],
        "devices": [device.address],
        "origin": "Roastery, Hamburg",
        "destination": "Corner Shop, Berlin",
        "terms": api.terms(),
    }
    created = ok(api.client.post("/shipments", json=body, headers=auth(buyer_key)), 201)
    approve_custody(api, brand_key, created["shipmentId"])  # the brand holds the items
    return World(
        api,
        brand_key,
        gtin,
        serials,
        carrier_key,
        other_carrier_key,
        buyer_key,
        device,
        created["shipmentId"],
        created["typedData"],
    )
