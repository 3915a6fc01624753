"""Brands' and roots' standing as the chain follower saw it (every TraceAnchor release).

Which registrations count is the caller's `Registries`: the newest TraceAnchor release's, and an
earlier release's only before the newest was deployed and only for an account the newest release
also registered (the upgrade carries active brands over) or the earlier release revoked before
then: an earlier release still deployed could otherwise register a prefix, nested or taken,
behind the newest one's back, and a nested prefix the upgrade did not carry over would count.
The auditor (chaintrace/audit_authenticity.py) applies the same rule on chain. Revocations and
compromises count from every release listed (the earliest counts). A root's facts are read from
the release its batch went to. These are the facts core.verdict decides on, never a flag the API
keeps; a recall is the prefix's brand's word, recorded in the store (store/recalls.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.hexstr import hex0x
from core.verdict import BrandFacts, ItemFacts, RootFacts
from store.chain_view import log_time
from store.models import AnchorBatch, BatchStatus, Event, Item
from store.models.chain_view import ChainLog
from store.recalls import standing_recall

_BRAND_EVENTS = ("BrandRegistered", "BrandRevoked", "BrandCompromised")
_ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class Registry:
    """A TraceAnchor release whose registrations count, up to (not including) `until_block`."""

    contract: str
    until_block: int | None = None


Registries = Sequence[Registry]


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


def _registry(log: ChainLog, registries: Registries) -> Registry | None:
    return next((r for r in registries if r.contract.lower() == log.contract.lower()), None)


def _counted(logs: list[ChainLog], registries: Registries) -> list[ChainLog]:
    """The logs that count: from a listed release; a registration on an earlier release only
    before its cut-off and for an account the newest registered or it revoked before then."""
    listed = [(log, r) for log in logs if (r := _registry(log, registries)) is not None]
    on_newest, revoked_early = set(), set()
    for log, registry in listed:
        brand = str(log.args.get("brand", "")).lower()
        if log.event == "BrandRegistered" and registry.until_block is None:
            on_newest.add(brand)
        elif log.event == "BrandRevoked" and log.block_number < (registry.until_block or -1):
            revoked_early.add((log.contract.lower(), brand))

    def counts(log: ChainLog, registry: Registry) -> bool:
        if log.event != "BrandRegistered" or registry.until_block is None:
            return True
        brand = str(log.args.get("brand", "")).lower()
        return log.block_number < registry.until_block and (
            brand in on_newest or (log.contract.lower(), brand) in revoked_early
        )

    return [log for log, registry in listed if counts(log, registry)]


@dataclass(frozen=True)
class BrandLedger:
    """Every counted brand event of the followed chain, read in one query (a request asks it
    several questions: the GTIN's prefix, the signer's and endorser's standing)."""

    standings: Mapping[str, BrandStanding]  # by lowercase address
    registrations: Sequence[tuple[str, str]]  # (prefix, brand) in chain order

    @classmethod
    def load(cls, session: Session, registries: Registries) -> BrandLedger:
        """The ledger under `registries` (which releases' registrations count)."""
        logs = list(
            session.scalars(
                select(ChainLog)
                .where(ChainLog.event.in_(_BRAND_EVENTS))
                .order_by(ChainLog.block_number, ChainLog.log_index)
            )
        )
        found: dict[str, BrandStanding] = {}
        registrations: list[tuple[str, str]] = []
        for log in _counted(logs, registries):
            key = log.subject
            current = found.get(key)
            if log.event == "BrandRegistered":
                brand, prefix = str(log.args["brand"]), str(log.args["companyPrefix"])
                registrations.append((prefix, brand))
                if current is None:
                    found[key] = BrandStanding(brand, prefix, log.block_number)
            elif current is None:
                continue  # not registered on the followed chain: nothing to qualify
            elif log.event == "BrandRevoked" and current.revoked_block is None:
                found[key] = replace(
                    current, revoked_block=log.block_number, revoked_at=log_time(session, log)
                )
            elif log.event == "BrandCompromised":
                since = int(log.args["since"])
                if current.compromised_since is None or since < current.compromised_since:
                    found[key] = replace(current, compromised_since=since)
        return cls(found, registrations)

    def standing(self, address: str | None) -> BrandStanding | None:
        """The standing of one account, or None if no counted registration names it."""
        return None if not address else self.standings.get(address.lower())

    def facts(self, *addresses: str | None) -> dict[str, BrandFacts]:
        """core.verdict's facts of the registered accounts among `addresses`."""
        standings = (self.standing(a) for a in addresses)
        return {s.address.lower(): s.facts for s in standings if s is not None}

    def holders(self, prefix: str) -> list[str]:
        """Every account a counted registration gave `prefix`, in order."""
        return list(dict.fromkeys(b for p, b in self.registrations if p == prefix))

    def prefix_of_gtin(self, gtin14: str) -> str | None:
        """The longest counted prefix the GTIN-14 starts with (after its indicator digit)."""
        matches = [p for p, _ in self.registrations if gtin14[1 : 1 + len(p)] == p]
        return max(matches, key=len, default=None)


def root_facts(session: Session, batch: AnchorBatch, contract: str | None) -> RootFacts:
    """The record of a batch's root on its own release (`contract`): signer, block time,
    re-signing, finality. Not on chain (or no such release): anchored_at None."""
    signer = anchored_at = endorser = endorsed_at = None
    on_chain = False
    root = hex0x(batch.root)
    logs = session.scalars(
        select(ChainLog)
        .where(ChainLog.subject == root, ChainLog.event.in_(("RootAnchored", "RootEndorsed")))
        .order_by(ChainLog.block_number, ChainLog.log_index)
    )
    for log in logs:
        if contract is None or log.contract.lower() != contract.lower():
            continue
        if log.event == "RootAnchored":
            on_chain = True
            brand = str(log.args.get("brand") or _ZERO)
            signer = None if brand.lower() == _ZERO else brand
            anchored_at = log_time(session, log)
        else:  # RootEndorsed: the latest counts (one replaces an endorsement that stopped counting)
            endorser, endorsed_at = str(log.args["brand"]), log_time(session, log)
    return RootFacts(
        signer=signer,
        anchored_at=anchored_at if on_chain else None,
        final=on_chain and batch.status is BatchStatus.FINAL,
        endorser=endorser,
        endorsed_at=endorsed_at,
    )


def item_facts(
    session: Session, item: Item, ledger: BrandLedger, contracts: Mapping[int, str]
) -> ItemFacts:
    """What core.verdict needs about `item`, from the store and the follower's view;
    `contracts` maps each TraceAnchor release (a batch's anchor_version) to its address."""
    prefix = ledger.prefix_of_gtin(item.product.gtin)
    event = session.get(Event, item.commission_event_id) if item.commission_event_id else None
    if prefix is None or event is None:
        return ItemFacts(prefix=prefix, known=event is not None)
    recall = standing_recall(session, item, prefix)
    batch = event.leaf.batch if event.leaf is not None else None
    if batch is None:
        return ItemFacts(prefix=prefix, known=True, recall=recall)
    root = root_facts(session, batch, contracts.get(batch.anchor_version))
    intended = batch.brand_address  # who signed the batch's root (None: a platform batch)
    brands = ledger.facts(root.signer, root.endorser, intended)
    if root.anchored_at is None:
        refused = batch.status is BatchStatus.FAILED and intended is not None
        return ItemFacts(
            prefix=prefix,
            known=True,
            refused_by=intended if refused else None,
            pending_signer=None if refused else intended,
            brands=brands,
            recall=recall,
        )
    return ItemFacts(prefix=prefix, known=True, root=root, brands=brands, recall=recall)
