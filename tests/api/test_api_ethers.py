"""A JavaScript wallet (ethers v6, tests/api/ethers_client.mjs) takes the API's answers as they
come over HTTP: it signs the Terms typed data exactly as returned and funds the escrow with an
amount JavaScript numbers cannot hold, then withdraws through the transaction the API prepares."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chain.clients import ShipmentState
from tests.api.flows import approve_custody, auth, ok
from tests.api.served_support import Served
from tests.api.served_support import served as served  # the fixture
from tests.utils.anvil import ChainEnv

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ethers_client.mjs")
# 1234567890123456789 as a JavaScript number is 1234567890123456800: a client that signed or sent
# a rounded amount would fail the API's signer check or fund the wrong amount.
AMOUNT = 1_234_567_890_123_456_789


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "ethers").is_dir():
        reason = "node or node_modules/ethers is missing (make deps installs them)"
        if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def _wallet_client(served: Served, **args: Any) -> dict[str, Any]:
    chain = served.world.api.chain
    assert chain is not None
    payload = json.dumps({"apiUrl": served.url, "rpcUrl": chain.node.rpc_url, **args})
    done = subprocess.run(
        [_node(), str(SCRIPT), payload],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-5_000:]
    return dict(json.loads(done.stdout))


def _shipment(served: Served) -> str:
    """A new shipment of a spare item whose deposit is AMOUNT wei."""
    world, api = served.world, served.world.api
    assert api.chain is not None
    body = {
        "carrier": api.principal_id(world.carrier_key),
        "payee": api.chain.payee.address,
        "items": [{"gtin": world.gtin, "serial": world.spare.pop()}],
        "devices": [world.device.address],
        "terms": api.terms(AMOUNT),
    }
    created = ok(api.client.post("/shipments", json=body, headers=auth(world.buyer_key)), 201)
    approve_custody(api, world.brand_key, created["shipmentId"])
    return str(created["shipmentId"])


def _fund(served: Served, chain: ChainEnv, shipment_id: str) -> dict[str, Any]:
    return _wallet_client(
        served,
        step="fund",
        shipmentId=shipment_id,
        buyerKey=served.world.buyer_key,
        payeeKey=served.world.carrier_key,
        buyerPrivateKey=chain.buyer.key.hex(),
        payeePrivateKey=chain.payee.key.hex(),
    )


def test_ethers_signs_the_terms_as_returned_and_funds_the_exact_amount(served: Served) -> None:
    chain = served.world.api.chain
    assert chain is not None
    shipment_id = _shipment(served)
    funded = _fund(served, chain, shipment_id)
    assert funded["amount"] == str(AMOUNT)  # a decimal string, exactly
    view = chain.escrow.shipment(shipment_id)
    assert view.state is ShipmentState.FUNDED and view.amount == AMOUNT
    assert chain.w3.eth.get_transaction(funded["fundTx"])["value"] == AMOUNT


def test_ethers_withdraws_what_the_escrow_owes_through_the_api(served: Served) -> None:
    world, chain = served.world, served.world.api.chain
    assert chain is not None
    client = world.api.client
    nothing = client.get("/withdraw-tx?escrowVersion=1", headers=auth(world.buyer_key))
    assert nothing.status_code == 409 and "owes" in nothing.json()["detail"]
    shipment_id = _shipment(served)
    _fund(served, chain, shipment_id)
    # Nobody delivers: past the deadline and the refund grace, anyone may refund the buyer.
    chain.w3.provider.make_request("evm_increaseTime", [2 * 86_400])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    chain.escrow.send_refund(chain.stranger, shipment_id)
    owed = chain.escrow.owed(chain.buyer.address)
    assert owed >= AMOUNT
    before = chain.w3.eth.get_balance(chain.buyer.address)
    withdrawn = _wallet_client(
        served,
        step="withdraw",
        escrowVersion=1,
        key=world.buyer_key,
        privateKey=chain.buyer.key.hex(),
    )
    assert withdrawn["owedWei"] == str(owed)
    receipt = chain.w3.eth.get_transaction_receipt(withdrawn["withdrawTx"])
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.w3.eth.get_balance(chain.buyer.address) == before + owed - gas
    assert chain.escrow.owed(chain.buyer.address) == 0
    again = client.get("/withdraw-tx?escrowVersion=1", headers=auth(world.buyer_key))
    assert again.status_code == 409
