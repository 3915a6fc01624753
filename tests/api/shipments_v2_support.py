"""Helpers shared by several test modules (a module named test_* holds only tests)."""

from __future__ import annotations

import time
from typing import Any

from chain.clients import ShipmentEscrowV2Client
from tests.api.flows import World, approve_custody, auth, ok
from tests.utils.anvil import ChainEnv, latest_timestamp

FENCE = {"latE7": 535_511_000, "lonE7": -99_937_000, "radiusM": 500}


def _now(chain: ChainEnv) -> int:
    return max(int(time.time()), latest_timestamp(chain.w3))


def _chain(world: World) -> ChainEnv:
    chain = world.api.chain
    assert chain is not None
    return chain


def _escrow(world: World) -> ShipmentEscrowV2Client:
    chain = _chain(world)
    assert chain.deployment.shipment_escrow_v2 is not None
    return ShipmentEscrowV2Client(chain.w3, chain.deployment.shipment_escrow_v2)


def _body(world: World, payee: str, serials: list[str], **v2: Any) -> dict[str, Any]:
    chain = _chain(world)
    escrow_v2 = {
        "oracle": chain.oracle.address,
        "fundBy": _now(chain) + 3_600,
        "autoAcceptAfter": 7_200,
        "arrivalDwellMinutes": 20,
    }
    escrow_v2.update(v2)
    return {
        "carrier": world.api.principal_id(world.carrier_key),
        "payee": payee,
        "items": [{"gtin": world.gtin, "serial": s} for s in serials],
        "devices": [world.device.address],
        "destinationGeofence": FENCE,
        "terms": world.api.terms(
            arbiter=chain.admin.address, disputeTimeout=86_400, refundGrace=4 * 3_600
        ),
        "escrowV2": escrow_v2,
    }


def _create(world: World, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """Created by the buyer, approved by the items' custodian (the brand)."""
    response = world.api.client.post("/shipments", json=body, headers=auth(world.buyer_key))
    created = dict(ok(response, status))
    approve_custody(world.api, world.brand_key, created["shipmentId"])
    return created


def _funding_tx(world: World, sid: str) -> Any:
    url = f"/shipments/{sid}/funding-tx"
    return world.api.client.get(url, headers=auth(world.buyer_key))
