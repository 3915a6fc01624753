"""An item in each verdict state of core.verdict, made through the API, the anchoring worker,
the follower and TraceAnchor v2 of the store and chain a test provides (the `api` fixture).

Each function makes its own state and returns the code to scan; the states share one store and
chain: brand "Acme Foods" (prefix 0614141, the chain's brand account) holds genuine, recalled,
not yet confirmed and not recognised; the revoked, compromised and not-brand-signed states each
have a brand (prefix) of their own, since they change a brand's standing. The anchoring worker
anchors everything pending, so `not_yet_confirmed` comes last (`every_state` builds them so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import select

from chain.clients import TraceAnchorV2Client
from core.gs1 import sgtin_urn
from store.db import session_factory, transaction
from store.models import AnchorBatch
from tests.api.flows import (
    CONFIRMATIONS,
    OTHER_PREFIX,
    PREFIX,
    Api,
    anchor_worker,
    auth,
    follow,
    gtin13,
    mine,
    ok,
    register_brand_on_chain,
    send_tx,
)

ACME = "Acme Foods"
GTIN = gtin13(PREFIX, "77777")
# Brands whose standing a state changes: (name, company prefix).
REVOKED_BRAND = ("Revoked Teas", "0712345")
COMPROMISED_BRAND = ("Stolen Key Soaps", "0723456")
UNSIGNED_BRAND = ("Late Registrar Oils", "0734567")


@dataclass(frozen=True)
class StateItem:
    """A code in one verdict state: what the resolver must answer for it."""

    verdict: str
    gtin: str
    serial: str

    @property
    def path(self) -> str:
        """The Digital Link path to scan."""
        return f"/01/{self.gtin}/21/{self.serial}"


def _chain(api: Api) -> Any:
    assert api.chain is not None
    return api.chain


def _v2(api: Api) -> TraceAnchorV2Client:
    anchor = _chain(api).anchor
    assert isinstance(anchor, TraceAnchorV2Client)
    return anchor


def anchor_final(api: Api) -> None:
    """Anchor whatever is pending, mine past the confirmations, mark it final, follow."""
    worker = anchor_worker(api)
    worker.run_once()
    mine(_chain(api).w3, CONFIRMATIONS)
    worker.run_once()
    follow(api)


def _register(api: Api, prefix: str) -> None:
    if prefix == PREFIX:
        register_brand_on_chain(api)
        return
    chain = _chain(api)
    built = ok(
        api.client.get(
            f"/brands/{prefix}/registration-tx",
            params={"sender": chain.admin.address},
            headers=auth(api.admin_key),
        )
    )
    send_tx(chain.w3, chain.admin, built["tx"])
    follow(api)


def wallet_of_prefix(prefix: str) -> LocalAccount:
    """A brand's wallet, the same on every call (a key derived from its prefix)."""
    account: LocalAccount = Account.from_key(keccak(text=f"verdict-states {prefix}"))
    return account


def brand(
    api: Api, name: str = ACME, prefix: str = PREFIX, *, on_chain: bool = True
) -> tuple[str, LocalAccount, str]:
    """(API key, wallet, GTIN) of a brand with one product, registered on chain unless told
    not to; made once per name (later calls return the same)."""
    gtin = GTIN if prefix == PREFIX else gtin13(prefix, "1")
    wallet = _chain(api).brand if prefix == PREFIX else wallet_of_prefix(prefix)
    if name in api.keys:
        return api.keys[name], wallet, gtin
    key = api.brand(wallet, prefix, name)
    api.product(key, gtin)
    if on_chain:
        _register(api, prefix)
    return key, wallet, gtin


def commission(api: Api, serial: str, name: str = ACME, prefix: str = PREFIX) -> dict[str, Any]:
    """The brand's signed commissioning of `serial` (waiting for the anchoring worker)."""
    key, wallet, gtin = brand(api, name, prefix)
    return api.commission(key, wallet, gtin, [serial])


def recall_event(
    epcs: list[str] | None = None,
    classes: list[str] | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 recall: ObjectEvent OBSERVE, disposition recalled, naming items (`epcs`)
    and/or lots or products (`classes`, as quantityList epcClass)."""
    moment = (when or datetime.now(UTC)).replace(microsecond=0)
    event: dict[str, Any] = {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "ObjectEvent",
        "eventTime": moment.isoformat().replace("+00:00", "Z"),
        "eventTimeZoneOffset": "+00:00",
        "epcList": list(epcs or []),
        "action": "OBSERVE",
        "bizStep": "holding",
        "disposition": "recalled",
    }
    if classes:
        event["quantityList"] = [{"epcClass": c, "quantity": 1} for c in classes]
    return event


def item_epc(gtin: str, serial: str, prefix: str = PREFIX) -> str:
    """The SGTIN URN of an item."""
    return sgtin_urn(gtin, serial, len(prefix))


def genuine(api: Api, serial: str = "G1") -> StateItem:
    """Commissioned by the brand, its root final."""
    commission(api, serial)
    anchor_final(api)
    return StateItem("genuine", GTIN, serial)


def not_yet_confirmed(api: Api, serial: str = "P1") -> StateItem:
    """Commissioned and anchored, not final yet (CONFIRMATIONS blocks still to come)."""
    commission(api, serial)
    anchor_worker(api).run_once()
    follow(api)
    return StateItem("not_yet_confirmed", GTIN, serial)


def not_recognised(api: Api, serial: str = "NEVER1") -> StateItem:
    """A serial the registered brand never commissioned."""
    brand(api)
    return StateItem("not_recognised", GTIN, serial)


def unregistered(api: Api, serial: str = "X1") -> StateItem:
    """A GTIN under no registered brand's prefix (neutral, never a counterfeit warning)."""
    return StateItem("unregistered", gtin13(OTHER_PREFIX, "1"), serial)


def recalled(api: Api, serial: str = "RC1") -> StateItem:
    """Genuine, then recalled by the brand (POST /epcis/events)."""
    genuine(api, serial)
    key, _, _ = brand(api)
    body = recall_event([item_epc(GTIN, serial)])
    ok(api.client.post("/epcis/events", json=body, headers=auth(key)), 201)
    return StateItem("recalled", GTIN, serial)


def brand_revoked(api: Api, serial: str = "RV2") -> StateItem:
    """Signed by a brand whose key was revoked before its root reached the chain."""
    name, prefix = REVOKED_BRAND
    _, wallet, gtin = brand(api, name, prefix)
    commission(api, serial, name, prefix)
    chain = _chain(api)
    _v2(api).send_revoke_brand(chain.admin, wallet.address)
    follow(api)
    anchor_final(api)  # the chain refuses the revoked brand's root
    return StateItem("brand_revoked", gtin, serial)


def brand_compromised(api: Api, serial: str = "CP1") -> StateItem:
    """Anchored under a brand key the admin later declared compromised from before then."""
    name, prefix = COMPROMISED_BRAND
    _, _, gtin = brand(api, name, prefix)
    signed = commission(api, serial, name, prefix)
    anchor_final(api)
    since = _v2(api).root_info(signed["root"]).anchored_at
    chain = _chain(api)
    built = ok(
        api.client.get(
            f"/brands/{prefix}/compromise-tx",
            params={"since": since, "sender": chain.admin.address},
            headers=auth(api.admin_key),
        )
    )
    send_tx(chain.w3, chain.admin, built["tx"])
    follow(api)
    return StateItem("brand_compromised", gtin, serial)


def not_brand_signed(api: Api, serial: str = "NB1") -> StateItem:
    """Commissioned in a platform root (no brand signature), as an earlier release re-anchored
    a brand root the chain refused: written to the store as that release left it."""
    name, prefix = UNSIGNED_BRAND
    _, _, gtin = brand(api, name, prefix)
    signed = commission(api, serial, name, prefix)
    with transaction(session_factory(api.engine)) as session:
        batch = session.scalar(
            select(AnchorBatch).where(AnchorBatch.root == bytes.fromhex(signed["root"][2:]))
        )
        assert batch is not None
        batch.brand_address = None
        batch.brand_signature = None
    anchor_final(api)
    return StateItem("not_brand_signed", gtin, serial)


def every_state(api: Api) -> dict[str, StateItem]:
    """One item per verdict state in one store and chain, built in an order that keeps each."""
    made = [
        genuine(api),
        recalled(api),
        brand_revoked(api),
        brand_compromised(api),
        not_brand_signed(api),
        not_recognised(api),
        unregistered(api),
        not_yet_confirmed(api),
    ]
    return {item.verdict: item for item in made}
