"""The audit of kind 2 leaves: each stored projection is exactly P(event, epc) of the stored full
event (for the locations it shows as public), its leaf rebuilds from it and its salt, proves into
its batch's root, and TraceAnchor v2's verifyMember accepts it on chain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.clients.trace_anchor import TraceAnchorClient
from chaintrace.audit_records import AuditRecord, AuditReport
from core.epcis import EpcisError
from core.epcis.projection import is_projection_of, projection_hash
from core.errors import MerkleError
from core.hexstr import hex0x
from core.merkle import member_leaf_hash, verify
from store.models import AnchorBatch, BatchStatus, Event, EventErasure, Leaf
from store.models.events import MEMBER_KIND
from store.outbox import leaf_proof

if TYPE_CHECKING:
    from collections.abc import Mapping


def member_records(session: Session) -> list[AuditRecord]:
    """Every stored kind 2 leaf as an audit record (kind 2), by event then leaf."""
    rows = session.execute(
        select(Leaf, Event, AnchorBatch, EventErasure)
        .join(Event, Event.id == Leaf.event_id)
        .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
        .outerjoin(EventErasure, EventErasure.event_id == Event.id)
        .where(Leaf.kind == MEMBER_KIND)
        .order_by(Leaf.event_id, Leaf.id)
    )
    out = []
    for leaf, event, batch, erasure in rows:
        refused = batch is not None and batch.status is BatchStatus.FAILED
        on_chain = batch is not None and not refused
        proof = []
        if on_chain:
            try:
                proof = leaf_proof(leaf, batch) or []
            except MerkleError:
                proof = []
        out.append(
            AuditRecord(
                kind=MEMBER_KIND,
                event_json=event.event_json,
                event_hash="" if erasure is not None else hex0x(event.event_hash),
                salt=hex0x(leaf.salt),
                proof=proof,
                root=hex0x(batch.root) if on_chain and batch is not None else None,
                tx_hash=batch.tx_hash if on_chain and batch is not None else None,
                block_number=batch.block_number if on_chain and batch is not None else None,
                anchor_version=1 if batch is None else batch.anchor_version,
                refused=refused,
                leaf_hash=hex0x(leaf.leaf_hash),
                erased_at=None if erasure is None else erasure.erased_at.isoformat(),
                erased_by=None if erasure is None else erasure.erased_by,
                event_id=event.id,
                epc=leaf.epc,
                projection_json=leaf.projection_json,
                event_kind=event.kind,
            )
        )
    return out


def check_member(
    report: AuditReport, r: AuditRecord, anchors: Mapping[int, TraceAnchorClient]
) -> bytes | None:
    """Check one kind 2 record; its leaf (for the root rebuild), or None with the failure
    reported."""
    report.projections += 1
    where = f"kind 2 leaf of event {r.event_id} for {r.epc}"
    stored = bytes.fromhex((r.leaf_hash or "").removeprefix("0x"))
    proof = [bytes.fromhex(p.removeprefix("0x")) for p in r.proof]
    if r.erased_at is not None:
        # Erased with its event: no salt, no projection; the leaf still proves into its root.
        if r.projection_json or r.salt not in ("", "0x"):
            report.failures.append(f"{where}: erased, yet its projection or salt is stored")
            return None
        if r.root is not None and not verify(bytes.fromhex(r.root[2:]), stored, proof):
            report.failures.append(f"{where}: its leaf does not prove into root {r.root}")
            return None
        return stored
    try:
        event = json.loads(r.event_json)
        projected = json.loads(r.projection_json or "")
        salt = bytes.fromhex(r.salt.removeprefix("0x"))
        hashed = projection_hash(projected)
        leaf = member_leaf_hash(int(r.event_kind or 0), hashed, salt)
    except (EpcisError, ValueError, TypeError) as exc:  # MerkleError is a ValueError
        report.failures.append(f"{where}: does not rebuild: {exc}")
        return None
    if (
        not isinstance(event, dict)
        or r.epc is None
        or not is_projection_of(projected, event, r.epc)
    ):
        report.failures.append(f"{where}: the stored projection is not P(event, epc)")
        return None
    if r.refused or r.root is None:
        return leaf
    anchor = anchors.get(r.anchor_version)
    if anchor is None or r.anchor_version < 2:
        report.failures.append(f"{where}: TraceAnchor v{r.anchor_version} cannot verify it")
        return None
    # The rebuilt leaf (not the stored one) goes to the root rebuild, as an event's does.
    in_root = verify(bytes.fromhex(r.root[2:]), leaf, proof)
    if (
        not in_root
        or not anchor.contract.functions.verifyMember(
            int(r.event_kind or 0), hashed, salt, proof
        ).call()
    ):
        report.failures.append(f"{where}: the contract rejects its proof to root {r.root}")
        return leaf
    if leaf != stored:
        report.failures.append(f"{where}: the stored leaf is not the one rebuilt")
    report.projections_verified_on_chain += 1
    return leaf
