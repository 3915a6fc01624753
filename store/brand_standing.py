"""Brands' and roots' standing as the chain follower saw it (every TraceAnchor release).

A brand account is registered, revoked and marked compromised by TraceAnchor events; its
standing is the union over releases (revoked on any release counts, the earliest compromise
time counts). These are the facts core.verdict decides on, never a flag the API keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.verdict import BrandFacts, ItemFacts, RootFacts
from store.chain_view import chain_logs, chain_root, log_time
from store.models import AnchorBatch, BatchStatus, Event, Item
from store.models.chain_view import ChainLog

_BRAND_EVENTS = ("BrandRegistered", "BrandRevoked", "BrandCompromised")


@dataclass(frozen=True)
class BrandStanding:
    """One brand account on the followed chain; None fields: it did not happen."""

    address: str
    prefix: str
    registered_block: int
    revoked_block: int | None = None
    revoked_at: int | None = None
    compromised_since: int | None = None

    @property
    def facts(self) -> BrandFacts:
        """What core.verdict needs of it."""
        return BrandFacts(self.address, self.prefix, self.revoked_at, self.compromised_since)

    @property
    def can_sign(self) -> bool:
        """Whether the chain still takes this account's signature on a root."""
        return self.revoked_block is None and self.compromised_since is None


def brand_standings(session: Session, addresses: Iterable[str]) -> dict[str, BrandStanding]:
    """The standing of each registered account among `addresses`, by lowercase address."""
    wanted = sorted({a.lower() for a in addresses if a})
    if not wanted:
        return {}
    logs = session.scalars(
        select(ChainLog)
        .where(ChainLog.subject.in_(wanted), ChainLog.event.in_(_BRAND_EVENTS))
        .order_by(ChainLog.block_number, ChainLog.log_index)
    )
    found: dict[str, BrandStanding] = {}
    for log in logs:
        key = log.subject
        current = found.get(key)
        if log.event == "BrandRegistered":
            if current is None:
                found[key] = BrandStanding(
                    str(log.args["brand"]), str(log.args["companyPrefix"]), log.block_number
                )
        elif current is None:
            continue  # not registered on the followed chain: nothing to qualify
        elif log.event == "BrandRevoked" and current.revoked_block is None:
            found[key] = replace(current, revoked_block=log.block_number,
                                  revoked_at=log_time(session, log))  # fmt: skip
        elif log.event == "BrandCompromised":
            since = int(log.args["since"])
            if current.compromised_since is None or since < current.compromised_since:
                found[key] = replace(current, compromised_since=since)
    return found


def brand_standing(session: Session, address: str) -> BrandStanding | None:
    """The standing of one account, or None if the followed chain never registered it."""
    return brand_standings(session, [address]).get(address.lower())


def prefix_holders(session: Session, prefix: str) -> list[str]:
    """Every account the followed chain registered for `prefix`, in order."""
    logs = session.scalars(
        select(ChainLog)
        .where(ChainLog.event == "BrandRegistered")
        .order_by(ChainLog.block_number, ChainLog.log_index)
    )
    holders = [str(log.args["brand"]) for log in logs if log.args.get("companyPrefix") == prefix]
    return list(dict.fromkeys(holders))


def root_facts(session: Session, batch: AnchorBatch) -> RootFacts:
    """The chain's record of a batch's root: signer, block time, re-signing, finality."""
    on_chain = chain_root(session, batch.root)
    if on_chain is None:
        return RootFacts(signer=None, anchored_at=None)
    anchored_at = endorser = endorsed_at = None
    for log in chain_logs(session, "0x" + batch.root.hex(), ("RootAnchored", "RootEndorsed")):
        if log.event == "RootAnchored":
            anchored_at = log_time(session, log)
        elif endorser is None:
            endorser, endorsed_at = str(log.args["brand"]), log_time(session, log)
    return RootFacts(
        signer=on_chain.brand,
        anchored_at=anchored_at,
        final=batch.status is BatchStatus.FINAL,
        endorser=endorser,
        endorsed_at=endorsed_at,
    )


def registered_prefix(session: Session, gtin14: str) -> str | None:
    """The prefix the followed chain registered that the GTIN-14 starts with (after its
    indicator digit), or None: prefixes never nest on chain, so at most one matches."""
    logs = session.scalars(select(ChainLog).where(ChainLog.event == "BrandRegistered"))
    for log in logs:
        prefix = str(log.args.get("companyPrefix", ""))
        if prefix and gtin14[1 : 1 + len(prefix)] == prefix:
            return prefix
    return None


def item_facts(session: Session, item: Item) -> ItemFacts:
    """What core.verdict needs about `item`, from the store and the follower's view."""
    prefix = registered_prefix(session, item.product.gtin)
    event = session.get(Event, item.commission_event_id) if item.commission_event_id else None
    if prefix is None or event is None:
        return ItemFacts(prefix=prefix, known=event is not None)
    batch = event.leaf.batch if event.leaf is not None else None
    if batch is None:
        return ItemFacts(prefix=prefix, known=True)
    if batch.status is BatchStatus.FAILED and batch.brand_address is not None:
        standings = brand_standings(session, [batch.brand_address])
        brands = {k: v.facts for k, v in standings.items()}
        return ItemFacts(prefix=prefix, known=True, refused_by=batch.brand_address, brands=brands)
    root = root_facts(session, batch)
    standings = brand_standings(session, [a for a in (root.signer, root.endorser) if a])
    brands = {k: v.facts for k, v in standings.items()}
    return ItemFacts(prefix=prefix, known=True, root=root, brands=brands)
