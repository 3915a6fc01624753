"""The authenticity verdict on one item, by DESIGN.md's precedence, defined once.

The page, the resolver's JSON and the auditor all call `verdict`; each gathers the facts its own
way (the follower's view of the chain, or the chain itself) and none decides anything else.

Genuine: the item's commissioning is in a root signed by the brand holding the item's prefix,
anchored before that brand's revocation and before any `compromisedSince` the admin recorded,
or re-signed by the prefix's current holder before any compromise of that holder's key; and the
root is final. Precedence (the first that applies wins):

  unregistered (a GTIN of no registered brand: neutral, never a counterfeit warning)
  > not recognised (a registered brand's prefix, unknown serial)
  > brand revoked / brand compromised / not brand-signed (the brand's word is missing)
  > recalled (the prefix's brand recalled the item, its lot or its product: docs/recalls.md)
  > not yet confirmed (the brand's root is not final yet)
  > genuine.

DESIGN's "copy warning" level (between recalled and not yet confirmed) has nothing recording it
yet, so it is not among the outcomes. A decision carries `since` (unix seconds: the revocation,
the `compromisedSince` or the recall it rests on) and the recall, as data for the page to word.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Verdict(enum.StrEnum):
    """What a shopper is told about an item."""

    UNREGISTERED = "unregistered"
    NOT_RECOGNISED = "not_recognised"
    BRAND_REVOKED = "brand_revoked"
    BRAND_COMPROMISED = "brand_compromised"
    NOT_BRAND_SIGNED = "not_brand_signed"
    RECALLED = "recalled"
    NOT_YET_CONFIRMED = "not_yet_confirmed"
    GENUINE = "genuine"


@dataclass(frozen=True)
class BrandFacts:
    """A brand account's standing on chain (times in unix seconds)."""

    address: str
    prefix: str
    revoked_at: int | None = None
    compromised_since: int | None = None


@dataclass(frozen=True)
class RootFacts:
    """The root holding an item's commissioning leaf, as the chain shows it."""

    signer: str | None  # the brand that signed it; None for a platform root
    anchored_at: int | None  # block time; None while it is not on chain
    final: bool = False
    endorser: str | None = None  # the prefix holder that re-signed it (TraceAnchor v2)
    endorsed_at: int | None = None


@dataclass(frozen=True)
class RecallFacts:
    """A recall the prefix's brand recorded and has not declared an error (times in unix
    seconds); scope "item" (this serial), "lot" (every item of `lot`) or "product" (the GTIN)."""

    recalled_at: int
    scope: str
    lot: str | None = None


@dataclass(frozen=True)
class ItemFacts:
    """Everything the verdict depends on."""

    prefix: str | None  # the registered company prefix the GTIN starts with; None: no brand
    known: bool  # the serial exists and has a commissioning event
    root: RootFacts | None = None  # None: the commissioning is not in any root yet
    refused_by: str | None = None  # the brand whose commissioning root the chain refused
    pending_signer: str | None = None  # the brand that signed a root not on chain yet
    brands: Mapping[str, BrandFacts] = field(default_factory=dict)  # by lowercase address
    recall: RecallFacts | None = None  # the earliest standing recall by the prefix's brand


@dataclass(frozen=True)
class Decision:
    """The verdict, the brand whose word it rests on, and what else is known (plain facts):
    `since` is when the revocation, compromise or recall the verdict rests on took effect."""

    verdict: Verdict
    confirmed_by: str | None = None
    notes: tuple[str, ...] = ()
    since: int | None = None
    recall: RecallFacts | None = None


def _brand(facts: ItemFacts, address: str | None) -> BrandFacts | None:
    return None if address is None else facts.brands.get(address.lower())


def _word_holds(brand: BrandFacts | None, prefix: str, signed_at: int | None) -> bool:
    """Whether a signature by `brand` made at `signed_at` speaks for `prefix`."""
    if brand is None or signed_at is None or brand.prefix != prefix:
        return False
    if brand.compromised_since is not None and signed_at >= brand.compromised_since:
        return False
    # The chain refuses a revoked brand's signature, so a signed root predates its revocation
    # (the same block when it came first in it).
    return brand.revoked_at is None or signed_at <= brand.revoked_at


def _unconfirmed(signer: BrandFacts | None, notes: tuple[str, ...] = ()) -> Decision:
    if signer is not None and signer.compromised_since is not None:
        return Decision(Verdict.BRAND_COMPROMISED, notes=notes, since=signer.compromised_since)
    if signer is not None and signer.revoked_at is not None:
        return Decision(Verdict.BRAND_REVOKED, notes=notes, since=signer.revoked_at)
    return Decision(Verdict.NOT_BRAND_SIGNED, notes=notes)


def _recalled(facts: ItemFacts, by: str | None, notes: tuple[str, ...]) -> Decision | None:
    recall = facts.recall
    if recall is None:
        return None
    return Decision(Verdict.RECALLED, by, notes, since=recall.recalled_at, recall=recall)


def _notes(facts: ItemFacts, confirmer: BrandFacts) -> tuple[str, ...]:
    notes = []
    signer = _brand(facts, facts.root.signer if facts.root else None)
    for brand in dict.fromkeys(b for b in (signer, confirmer) if b is not None):
        if brand.compromised_since is not None:
            notes.append(f"brand key {brand.address} compromised since {brand.compromised_since}")
        if brand.revoked_at is not None:
            notes.append(f"brand key {brand.address} revoked at {brand.revoked_at}")
    if confirmer is not signer:
        notes.append(f"re-signed by {confirmer.address}")
    return tuple(notes)


def verdict(facts: ItemFacts) -> Decision:
    """The verdict on one item (see the module's docstring for the rule and precedence)."""
    if facts.prefix is None:
        return Decision(Verdict.UNREGISTERED)
    if not facts.known:
        return Decision(Verdict.NOT_RECOGNISED)
    if facts.refused_by is not None:
        refused = _brand(facts, facts.refused_by)
        return _unconfirmed(refused, ("the chain refused its commissioning",))
    root = facts.root
    if root is None or root.anchored_at is None:
        # Revoked or compromised outranks "not yet confirmed": the chain will refuse the root.
        pending = _brand(facts, facts.pending_signer)
        if pending is not None and (pending.revoked_at or pending.compromised_since):
            return _unconfirmed(pending, ("commissioning not anchored",))
        waiting = ("commissioning not anchored yet",)
        return _recalled(facts, None, waiting) or Decision(Verdict.NOT_YET_CONFIRMED, notes=waiting)
    signer = _brand(facts, root.signer)
    if signer is None or signer.prefix != facts.prefix:
        # A platform root, or one signed by no holder of the prefix: reported, never trusted.
        what = "a platform root" if root.signer is None else f"a root {root.signer} signed"
        return Decision(Verdict.NOT_BRAND_SIGNED, notes=(f"commissioning in {what}",))
    confirmer: BrandFacts | None = None
    if _word_holds(signer, facts.prefix, root.anchored_at):
        confirmer = signer
    elif _word_holds(_brand(facts, root.endorser), facts.prefix, root.endorsed_at):
        confirmer = _brand(facts, root.endorser)
    if confirmer is None:
        return _unconfirmed(signer)
    notes = _notes(facts, confirmer)
    recalled = _recalled(facts, confirmer.address, notes)
    if recalled is not None:
        return recalled
    if not root.final:
        return Decision(Verdict.NOT_YET_CONFIRMED, confirmer.address, notes)
    return Decision(Verdict.GENUINE, confirmer.address, notes)
