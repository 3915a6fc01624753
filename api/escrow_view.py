"""The escrow state the API shows: the chain follower's view in the store, never a chain read.

Every answer names the block it is true as of (the follower's tip). The follower runs in the
anchoring process (`chaintrace anchor`); until it has read a shipment's funding, the shipment's
escrow shows state "none" as of an earlier block, and before it has read any block, no escrow.
Times the escrow derives from its stored record (attestedAt + disputeWindow, ...) are rebuilt
from the events' block times and the shipment's terms, used only when their hash is the one
the escrow holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.schemas.disputes import EvidencePublic
from api.schemas.shipments import EscrowPublic
from core.eip712 import Terms, TermsV2
from core.escrow_times import dispute_ends_at, refundable_at
from store import chain_view
from store.models import Shipment
from store.models.chain_view import EscrowView
from store.shipment_access import terms_of

NONE = "none"  # no ShipmentFunded seen up to the follower's tip
_ZERO = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class AsOf:
    """The highest block the follower has read, and its timestamp."""

    block: int
    time: int | None


@dataclass(frozen=True)
class Followed:
    """A shipment's escrow as followed: the view's row (None: no deposit seen) as of a block."""

    shipment: Shipment
    view: EscrowView | None
    as_of: AsOf

    @property
    def state(self) -> str:
        return NONE if self.view is None else self.view.state

    @property
    def terms(self) -> Terms | TermsV2 | None:
        """The shipment's terms, if the escrow holds them (same hash); else None."""
        if self.view is None or self.view.terms_hash != self.shipment.terms_hash:
            return None
        return terms_of(self.shipment)

    def event_time(self, session: Session, event: str) -> int | None:
        """The block time of the shipment's latest `event`, if followed."""
        log = chain_view.last_log(session, self.shipment.shipment_id, event)
        return None if log is None else chain_view.log_time(session, log)

    def attested_at(self, session: Session) -> int | None:
        """When the attestation was mined (the escrow's attestedAt)."""
        if self.view is None or self.view.evidence_root is None:
            return None
        return self.event_time(session, "DeliveryAttested")

    def disputed_at(self, session: Session) -> int | None:
        """When the dispute was opened (the escrow's disputedAt)."""
        if self.view is None:
            return None
        return self.event_time(session, "DisputeOpened")


def as_of(session: Session) -> AsOf | None:
    """Where the follower stands, or None before it has read a block."""
    tip = chain_view.followed_tip(session)
    if tip is None:
        return None
    return AsOf(int(tip.number), int(tip.timestamp) or None)


def followed(session: Session, shipment: Shipment, at: AsOf | None) -> Followed | None:
    """The followed escrow of one shipment as of `at` (None before the follower has read).

    Read `at` with as_of() before the shipment and its view: the follower commits a block's
    logs, its tip and the statuses they move together, so whatever is read after `at` includes
    everything up to it.
    """
    if at is None:
        return None
    view = chain_view.escrow_view(session, shipment.shipment_id, shipment.terms_hash)
    return Followed(shipment, view, at)


def followed_many(
    session: Session, shipments: Iterable[Shipment], at: AsOf | None
) -> dict[str, Followed]:
    """The followed escrow of several shipments by id, as of `at` (read first, as above)."""
    listed = list(shipments)
    if at is None:
        return {}
    views = chain_view.escrow_views(session, [(s.shipment_id, s.terms_hash) for s in listed])
    return {s.shipment_id: Followed(s, views.get(s.shipment_id.lower()), at) for s in listed}


def _wei(value: int | None) -> str:
    return str(value or 0)


def escrow_public(session: Session, f: Followed | None) -> EscrowPublic | None:
    """The escrow part of a shipment's answer."""
    if f is None:
        return None
    view, terms = f.view, f.terms
    attested_at = f.attested_at(session)
    return EscrowPublic(
        state=f.state,
        as_of_block=f.as_of.block,
        as_of_time=f.as_of.time,
        changed_at_block=None if view is None else view.block_number,
        tx_hash=None if view is None else view.tx_hash,
        terms_hash_matches=view is None or view.terms_hash == f.shipment.terms_hash,
        amount_wei=_wei(None if view is None else view.amount),
        payout_wei=_wei(None if view is None else view.payout),
        refund_wei=_wei(None if view is None else view.refund),
        attested_at=attested_at,
        dispute_ends_at=None
        if terms is None
        else dispute_ends_at(attested_at, terms.dispute_window),
        refundable_at=None if terms is None else refundable_at(terms.deadline, terms.refund_grace),
    )


def arbiter(f: Followed) -> str | None:
    """The arbiter the escrow holds (from the matching terms), None if none or unknown."""
    terms = f.terms
    return None if terms is None or terms.arbiter == _ZERO else terms.arbiter


_READING_FIELDS = ("device", "seq", "takenAtMs", "temperatureCentiC")


def _reading_args(args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The reading's fields of an EvidenceSubmitted event: flat in v1, a `reading` struct in v2
    (with inAttestedEvidence)."""
    reading = args.get("reading")
    if reading is None:
        return args, True  # v1 accepts only readings proven in the attested evidence
    if isinstance(reading, list):  # the follower keeps a struct as its components' list
        reading = dict(zip(_READING_FIELDS, reading, strict=False))
    return dict(reading), bool(args.get("inAttestedEvidence"))


def evidence(session: Session, shipment: Shipment) -> list[EvidencePublic]:
    """The followed EvidenceSubmitted events of a shipment (from its own escrow), oldest first."""
    out = []
    view = chain_view.escrow_view(session, shipment.shipment_id, shipment.terms_hash)
    for log in chain_view.chain_logs(session, shipment.shipment_id, ["EvidenceSubmitted"]):
        if view is not None and log.contract != view.contract:
            continue  # another escrow's shipment under the same id
        reading, in_evidence = _reading_args(log.args)
        out.append(
            EvidencePublic(
                submitter=str(log.args["submitter"]),
                reading_digest=str(log.args["readingDigest"]),
                device=str(reading["device"]),
                seq=int(reading["seq"]),
                taken_at_ms=int(reading["takenAtMs"]),
                temperature_centi_c=int(reading["temperatureCentiC"]),
                in_attested_evidence=in_evidence,
                tx_hash=log.tx_hash,
                block_number=log.block_number,
            )
        )
    return out
