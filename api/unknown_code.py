"""A code the store has no item for: whose prefix it falls under, and the verdict on it.

core.verdict decides; this gathers the facts (the follower's view of the chain for the prefix,
the store's brand row holding it for the brand's name and inbox). The resolver's page and the
"report this code" routes share it, so a report is taken exactly when the page offers it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.brand_state import ledger
from api.state import ChainAccess
from core.digital_link import encode_value
from core.verdict import Decision, ItemFacts, Verdict, verdict
from store.models import Brand


@dataclass(frozen=True)
class UnknownCode:
    """The verdict on an unknown code and the brand account holding its prefix (if any)."""

    decision: Decision
    brand: Brand | None

    @property
    def reportable(self) -> bool:
        """Whether shoppers may report it: not recognised, under a brand account of the store."""
        return self.decision.verdict is Verdict.NOT_RECOGNISED and self.brand is not None


def judge_unknown(session: Session, gtin14: str, chain: ChainAccess) -> UnknownCode:
    """The verdict on a serial (or lot) of `gtin14` the store does not know (ChainUnavailable,
    503, when the brands' standing cannot be read)."""
    prefix = ledger(session, chain).prefix_of_gtin(gtin14)
    decision = verdict(ItemFacts(prefix=prefix, known=False))
    brand = None
    if prefix is not None:
        brand = session.scalar(select(Brand).where(Brand.company_prefix == prefix))
    return UnknownCode(decision, brand)


def code_path(gtin14: str, serial: str, lot: str | None) -> str:
    """The canonical Digital Link path of a code: /01/{gtin}[/10/{lot}]/21/{serial}."""
    lot_part = "" if lot is None else f"/10/{encode_value(lot)}"
    return f"/01/{gtin14}{lot_part}/21/{encode_value(serial)}"
