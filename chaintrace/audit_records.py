"""What the auditor checks and reports: one anchored record, and the report of a whole check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuditRecord:
    """One anchored event as an auditor sees it: enough to recheck it with only an RPC URL."""

    kind: int
    event_json: str
    event_hash: str
    salt: str
    proof: list[str]
    root: str | None
    tx_hash: str | None
    block_number: int | None
    anchor_version: int = 1  # the TraceAnchor release its root went to
    refused: bool = False  # a brand's root the chain refused: never anchored, root is None
    leaf_hash: str | None = None  # the stored leaf (what an erased event's tree keeps)
    # Set when the event's personal data was erased: its event_json and salt are then empty.
    erased_at: str | None = None
    erased_by: str | None = None
    event_id: int | None = None  # the store's id of the event
    # An erased event's `event.erase` entry in the append-only admin log: {id, leaf, root}.
    # Without it an erasure is not the platform's: blanking JSON and salt would hide tampering.
    erasure_log: dict[str, Any] | None = None
    # A kind 2 leaf's record (kind 2): `event_json` is the full event it projects, `salt` the
    # leaf's own; the EPC, the projection as stored (hashed into the leaf) and the event's kind.
    epc: str | None = None
    projection_json: str | None = None
    event_kind: int | None = None


@dataclass
class AuditReport:
    """What was checked and every failure found, each named."""

    events: int = 0  # events (their own leaves); their kind 2 leaves are `projections`
    projections: int = 0
    # Kind 2 leaves whose projection is exactly P(event, epc) of the stored event and whose
    # proof TraceAnchor v2's verifyMember accepts.
    projections_verified_on_chain: int = 0
    hashes_recomputed: int = 0
    proofs_verified_on_chain: int = 0
    batches: int = 0
    roots_rebuilt: int = 0
    pending: int = 0
    # Events whose personal data an admin erased (each with its admin-log entry): their content
    # is unverifiable, their leaves still prove into their anchored roots (checked off chain:
    # the contract needs the salt); each with when and by whom.
    erased: list[dict[str, str | None]] = field(default_factory=list)
    refused: int = 0  # in a brand's root the chain refused (kept with it, never anchored)
    commissionings: int = 0
    brand_confirmed: int = 0
    # Anchored commissionings that are not the brand's word (platform root, compromised range,
    # no registered brand...): reported, never trusted; the records themselves are consistent.
    not_brand_confirmed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}
