"""Building a commissioning draft: one event per serial, its salted leaf and the kind 2 leaf of
its public projection, and the root over both leaves of every serial that the brand signs."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Container, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from core.eip712 import Commissioning, Domain, typed_data
from core.epcis import event_hash, event_hash_ni
from core.epcis.events import commissioning_event, dump, iso_ms, to_ms
from core.epcis.projection import projection, projection_hash
from core.gs1 import sgtin_urn
from core.hexstr import hex0x
from core.merkle import MerkleTree, leaf_hash
from store.commissioning import AWAITING_SIGNATURE
from store.models import Product
from store.models.types import utcnow
from store.projections import member_row

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
    public_locations: Container[str] = (),
    with_members: bool = True,
) -> dict[str, Any]:
    """The draft kept until the brand signs: events, salts, leaves, root and typed data; the
    lot and expiry go into each event's ILMD and, once signed, onto the items.

    Each serial's entry also carries `member`, the kind 2 leaf of its public projection
    P(event, epc) (`public_locations`: the location ids public now): epc, projection (the
    dict), projectionJson (the exact text stored), projectionHash, salt, leaf. The root is over
    [leaf, member leaf] of each serial in order (leafCount 2n), so a commissioning's projections
    too are only ever in a root the brand signed. Without `with_members` (a TraceAnchor release
    that cannot verify kind 2 leaves) there is no `member`: leafCount n, as drafts were before.
    """
    prefix_len = len(product.brand.company_prefix)
    entries: list[dict[str, Any]] = []
    for serial in serials:
        epc = sgtin_urn(product.gtin, serial, prefix_len)
        event = commissioning_event(
            epc, event_time, read_point, biz_location, lot=lot, expiry=expiry
        )
        digest = event_hash(event)
        salt = secrets.token_bytes(32)
        entry: dict[str, Any] = {
            "serial": serial,
            "epc": epc,
            "eventHash": hex0x(digest),
            "eventHashNi": event_hash_ni(event),
            "salt": hex0x(salt),
            "leaf": hex0x(leaf_hash(0, digest, salt)),
            "eventJson": dump(event),
            "eventTimeMs": to_ms(event_time),
        }
        if with_members:
            projected = projection(event, epc, public_locations)
            member = member_row(0, epc, projected)
            entry["member"] = {
                "epc": epc,
                "projection": projected,
                "projectionJson": member.projection_json,
                "projectionHash": hex0x(projection_hash(projected)),
                "salt": hex0x(member.salt),
                "leaf": hex0x(member.leaf_hash),
            }
        entries.append(entry)
    tree = MerkleTree.build(draft_leaves(entries))
    msg = Commissioning(brand=brand_wallet, root=tree.root, leaf_count=len(tree))
    return {
        "id": uuid.uuid4().hex,
        "status": AWAITING_SIGNATURE,
        "principalId": principal_id,
        "productId": product.id,
        "gtin": product.gtin,
        "brand": brand_wallet,
        "root": hex0x(tree.root),
        "leafCount": len(tree),
        "eventTime": iso_ms(event_time),
        "lot": lot,
        "expiry": None if expiry is None else expiry.isoformat(),
        "typedData": typed_data(msg, domain),
        "events": entries,
        "createdAt": iso_ms(utcnow()),
    }


def draft_leaves(entries: Sequence[dict[str, Any]]) -> list[bytes]:
    """The leaves a draft's root is over, in order: each serial's leaf, then its kind 2 leaf if
    the draft has one (drafts made before kind 2 leaves have none)."""
    out = []
    for entry in entries:
        out.append(bytes.fromhex(entry["leaf"][2:]))
        if "member" in entry:
            out.append(bytes.fromhex(entry["member"]["leaf"][2:]))
    return out


def draft_message(draft: dict[str, Any]) -> Commissioning:
    """The Commissioning message a draft asks the brand to sign."""
    return Commissioning(
        brand=draft["brand"], root=bytes.fromhex(draft["root"][2:]), leaf_count=draft["leafCount"]
    )
