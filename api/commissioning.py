"""Building a commissioning draft: one event per serial, salted leaves, the root to sign."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from core.eip712 import Commissioning, Domain, typed_data
from core.epcis import event_hash, event_hash_ni
from core.epcis.events import commissioning_event, dump, iso_ms, to_ms
from core.gs1 import sgtin_urn
from core.hexstr import hex0x
from core.merkle import MerkleTree, leaf_hash
from store.commissioning import AWAITING_SIGNATURE
from store.models import Product
from store.models.types import utcnow

# Commissioning is recorded when it happens; a small allowance covers clock skew.
MAX_FUTURE = timedelta(minutes=5)


def build_draft(
    product: Product,
    serials: Sequence[str],
    brand_wallet: str,
    domain: Domain,
    *,
    event_time: datetime,
    read_point: str | None,
    biz_location: str | None,
    principal_id: int,
    lot: str | None = None,
    expiry: date | None = None,
) -> dict[str, Any]:
    """The draft kept until the brand signs: events, salts, leaves, root and typed data; the
    lot and expiry go into each event's ILMD and, once signed, onto the items."""
    prefix_len = len(product.brand.company_prefix)
    entries: list[dict[str, Any]] = []
    for serial in serials:
        epc = sgtin_urn(product.gtin, serial, prefix_len)
        event = commissioning_event(
            epc, event_time, read_point, biz_location, lot=lot, expiry=expiry
        )
        digest = event_hash(event)
        salt = secrets.token_bytes(32)
        entries.append(
            {
                "serial": serial,
                "epc": epc,
                "eventHash": hex0x(digest),
                "eventHashNi": event_hash_ni(event),
                "salt": hex0x(salt),
                "leaf": hex0x(leaf_hash(0, digest, salt)),
                "eventJson": dump(event),
                "eventTimeMs": to_ms(event_time),
            }
        )
    tree = MerkleTree.build([bytes.fromhex(e["leaf"][2:]) for e in entries])
    msg = Commissioning(brand=brand_wallet, root=tree.root, leaf_count=len(entries))
    return {
        "id": uuid.uuid4().hex,
        "status": AWAITING_SIGNATURE,
        "principalId": principal_id,
        "productId": product.id,
        "gtin": product.gtin,
        "brand": brand_wallet,
        "root": hex0x(tree.root),
        "leafCount": len(entries),
        "eventTime": iso_ms(event_time),
        "lot": lot,
        "expiry": None if expiry is None else expiry.isoformat(),
        "typedData": typed_data(msg, domain),
        "events": entries,
        "createdAt": iso_ms(utcnow()),
    }


def draft_message(draft: dict[str, Any]) -> Commissioning:
    """The Commissioning message a draft asks the brand to sign."""
    return Commissioning(
        brand=draft["brand"], root=bytes.fromhex(draft["root"][2:]), leaf_count=draft["leafCount"]
    )
