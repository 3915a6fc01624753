"""Auditor checks: what the database (or an export) says is exactly what the chain anchored."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, replace
from pathlib import Path

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, sessionmaker

from chain.clients.trace_anchor import TraceAnchorClient
from chaintrace.audit_authenticity import ChainFacts, CommissioningCheck, check_commissioning
from chaintrace.audit_members import check_member, member_records
from chaintrace.audit_records import AuditRecord, AuditReport
from chaintrace.private_files import private_file
from core.epcis import EpcisError, event_hash
from core.errors import MerkleError
from core.hexstr import hex0x
from core.merkle import MerkleTree, leaf_hash, verify
from core.verdict import Verdict
from store.db import read_transaction
from store.models import AdminLogEntry, AnchorBatch, BatchStatus, Event, EventErasure, Leaf
from store.models.events import MEMBER_KIND
from store.outbox import leaf_proof

# v2 adds each record's TraceAnchor release; v3 each leaf hash and erasure; v4 the kind 2
# leaves (a record per projection). Earlier exports (v1: every root on TraceAnchor v1; none
# erased; no kind 2 leaf) still read.
EXPORT_FORMAT = "chaintrace-audit-export/v4"
_EXPORT_FORMATS = (
    "chaintrace-audit-export/v1",
    "chaintrace-audit-export/v2",
    "chaintrace-audit-export/v3",
    EXPORT_FORMAT,
)


def records_from_store(factory: sessionmaker[Session]) -> list[AuditRecord]:
    """Every stored event with its salt, proof and batch, in recording order."""
    with read_transaction(factory) as session:  # on SQLite: no write lock held meanwhile
        logged = {
            entry.target: entry
            for entry in session.scalars(
                select(AdminLogEntry)
                .where(AdminLogEntry.action == "event.erase")
                .order_by(AdminLogEntry.id)
            )
        }
        rows = session.execute(
            select(Event, Leaf, AnchorBatch, EventErasure)
            .join(Leaf, and_(Leaf.event_id == Event.id, Leaf.kind < MEMBER_KIND))
            .outerjoin(AnchorBatch, AnchorBatch.id == Leaf.batch_id)
            .outerjoin(EventErasure, EventErasure.event_id == Event.id)
            .order_by(Event.id)
        )
        own = [
            _erased(replace(_record(event, leaf, batch), event_id=event.id), erasure, logged)
            for event, leaf, batch, erasure in rows
        ]
        return own + member_records(session)


def _erased(
    record: AuditRecord, erasure: EventErasure | None, logged: Mapping[str, AdminLogEntry]
) -> AuditRecord:
    if erasure is None:
        return record
    entry = logged.get(f"event {erasure.event_id}")
    log = None
    if entry is not None:
        log = {"id": entry.id, "leaf": entry.details.get("leaf"), "root": entry.details.get("root")}
    return replace(
        record,
        event_hash="",  # unsalted, it would confirm a guess of the erased content
        erased_at=erasure.erased_at.isoformat(),
        erased_by=erasure.erased_by,
        erasure_log=log,
    )


def _record(event: Event, leaf: Leaf, batch: AnchorBatch | None) -> AuditRecord:
    if batch is not None and batch.status is BatchStatus.FAILED:
        # A brand's refused root keeps its leaves and is on no chain: nothing to prove.
        return AuditRecord(
            kind=event.kind,
            event_json=event.event_json,
            event_hash=hex0x(event.event_hash),
            salt=hex0x(leaf.salt),
            proof=[],
            root=None,
            tx_hash=None,
            block_number=None,
            anchor_version=batch.anchor_version,
            refused=True,
            leaf_hash=hex0x(leaf.leaf_hash),
        )
    return AuditRecord(
        kind=event.kind,
        event_json=event.event_json,
        event_hash=hex0x(event.event_hash),
        salt=hex0x(leaf.salt),
        proof=_proof(leaf, batch),
        root=None if batch is None else hex0x(batch.root),
        tx_hash=None if batch is None else batch.tx_hash,
        block_number=None if batch is None else batch.block_number,
        anchor_version=1 if batch is None else batch.anchor_version,
        leaf_hash=hex0x(leaf.leaf_hash),
    )


def _proof(leaf: Leaf, batch: AnchorBatch | None) -> list[str]:
    """The stored proof, or [] if the batch's tree does not hold the stored leaf (the audit
    then reports that the contract rejects it: a broken record is exported as it is)."""
    try:
        return leaf_proof(leaf, batch) or []
    except MerkleError:
        return []


def write_export(records: Iterable[AuditRecord], path: Path) -> int:
    """Write an audit export (JSON): events exactly as hashed, salts, proofs, roots."""
    items = [asdict(r) for r in records]
    private_file(path)  # it holds every salt
    path.write_text(json.dumps({"format": EXPORT_FORMAT, "records": items}, indent=1))
    return len(items)


def read_export(path: Path) -> list[AuditRecord]:
    """Read an audit export, refusing anything that is not one."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") not in _EXPORT_FORMATS:
        raise ValueError(f"{path} is not a {EXPORT_FORMAT} file")
    try:
        return [AuditRecord(**r) for r in data["records"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed record: {exc}") from None


def _by_root(records: Iterable[AuditRecord]) -> Iterator[tuple[str, list[int]]]:
    """Each root with the positions of its records."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.root is not None:
            groups.setdefault(r.root, []).append(i)
    yield from groups.items()


def _check_erased(report: AuditReport, r: AuditRecord) -> bytes | None:
    """An erased record's stored leaf, if its erasure is in the admin log and the leaf proves
    into its root (off chain: without the salt the contract cannot rebuild the leaf); else the
    failure is reported and None returned. Its content is unverifiable: nothing is said of it."""
    where = f"erased event {r.event_id}"
    if r.event_json or r.salt not in ("", "0x"):
        report.failures.append(f"{where}: its JSON or salt is still stored")
        return None
    if r.erasure_log is None:
        report.failures.append(f"erasure of event {r.event_id} has no admin-log record")
        return None
    if r.erasure_log.get("leaf") != r.leaf_hash or r.erasure_log.get("root") != r.root:
        report.failures.append(
            f"erasure of event {r.event_id}: its admin-log record (entry"
            f" {r.erasure_log.get('id')}) names another leaf or root than the stored ones"
        )
        return None
    if r.leaf_hash is None or r.root is None:
        report.failures.append(f"{where}: no leaf in an anchored root")
        return None
    leaf = bytes.fromhex(r.leaf_hash.removeprefix("0x"))
    proof = [bytes.fromhex(p.removeprefix("0x")) for p in r.proof]
    if not verify(bytes.fromhex(r.root.removeprefix("0x")), leaf, proof):
        report.failures.append(f"{where}: its leaf does not prove into root {r.root}")
        return None
    report.erased.append(
        {
            "eventId": None if r.event_id is None else str(r.event_id),
            "status": f"erased: content unverifiable, leaf proven in root {r.root}",
            "erasedAt": r.erased_at,
            "erasedBy": r.erased_by,
            "leaf": r.leaf_hash,
            "root": r.root,
            "adminLogEntry": str(r.erasure_log.get("id")),
        }
    )
    return leaf


def _judge(report: AuditReport, check: CommissioningCheck | None) -> None:
    if check is None:
        return
    report.commissionings += 1
    if check.verdict is Verdict.GENUINE:
        report.brand_confirmed += 1
    else:
        report.not_brand_confirmed.append(f"{check.epc} in root {check.root}: {check.verdict}")


def audit(
    records: list[AuditRecord],
    anchors: Mapping[int, TraceAnchorClient],
    upgrade_block: int | None = None,
) -> AuditReport:
    """Recompute every hash and leaf, rebuild every root, check every proof with eth_call on the
    record's TraceAnchor release, and judge every commissioning by core.verdict (`upgrade_block`:
    where the newest TraceAnchor release was deployed; earlier releases' registrations count
    only before it)."""
    report = AuditReport(events=sum(1 for r in records if r.kind != MEMBER_KIND))
    facts = ChainFacts(anchors, upgrade_block)
    leaves: dict[int, bytes] = {}
    for i, r in enumerate(records):
        where = f"event {r.event_hash[:18]}"
        if r.kind == MEMBER_KIND:
            member_leaf = check_member(report, r, anchors)
            if member_leaf is not None:
                leaves[i] = member_leaf
            continue
        if r.erased_at is not None:
            erased_leaf = _check_erased(report, r)
            if erased_leaf is not None:
                leaves[i] = erased_leaf
            continue
        try:
            recomputed = event_hash(json.loads(r.event_json))
        except (EpcisError, ValueError) as exc:
            report.failures.append(f"{where}: stored JSON does not hash: {exc}")
            continue
        if hex0x(recomputed) != r.event_hash:
            report.failures.append(f"{where}: canonical hash of the stored JSON differs")
            continue
        report.hashes_recomputed += 1
        try:
            salt = bytes.fromhex(r.salt.removeprefix("0x"))
            leaves[i] = leaf_hash(r.kind, recomputed, salt)
        except ValueError as exc:  # bad hex, or a MerkleError (a salt not 32 bytes)
            report.failures.append(f"{where}: no salt to rebuild its leaf: {exc}")
            continue
        if r.refused:
            report.refused += 1
            continue
        if r.root is None:
            report.pending += 1
            continue
        anchor = anchors.get(r.anchor_version)
        if anchor is None:
            report.failures.append(f"{where}: TraceAnchor v{r.anchor_version} is not deployed")
            continue
        proof = [bytes.fromhex(p.removeprefix("0x")) for p in r.proof]
        root = bytes.fromhex(r.root.removeprefix("0x"))
        if not anchor.verify_against(root, r.kind, recomputed, salt, proof):
            report.failures.append(f"{where}: the contract rejects its proof to root {r.root}")
            continue
        report.proofs_verified_on_chain += 1
        _judge(report, check_commissioning(r, facts))
    for root_hex, members in _by_root(records):
        report.batches += 1
        member_leaves = [leaves[m] for m in members if m in leaves]
        if len(member_leaves) != len(members):
            continue  # already reported per event
        root = bytes.fromhex(root_hex.removeprefix("0x"))
        anchor = anchors.get(records[members[0]].anchor_version)
        if anchor is None:
            continue  # already reported per event
        info = anchor.root_info(root)
        if not info.anchored:
            report.failures.append(f"root {root_hex}: not anchored on chain")
        elif info.leaf_count != len(members):
            report.failures.append(
                f"root {root_hex}: chain says {info.leaf_count} leaves, records hold {len(members)}"
            )
        if MerkleTree.build(member_leaves).root != root:
            report.failures.append(f"root {root_hex}: rebuilding the tree gives another root")
        else:
            report.roots_rebuilt += 1
    return report
