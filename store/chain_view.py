"""The chain follower's view: followed blocks, decoded logs, anchored roots, escrow state.

Everything here is derived from the chain and can be rebuilt from it: a reorg deletes what
the follower recorded from the abandoned blocks and folds each touched shipment's remaining
logs again, so the view always matches one chain the follower has seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store._validate import bytes_of, hex32
from store.errors import StoreValueError
from store.models.chain_view import ChainBlock, ChainLog, ChainRoot, EscrowView

# Escrow events -> the state they leave a shipment in (dispute events arrive with issue 4's
# contracts; unknown names keep the state and only move block_number / tx_hash).
ESCROW_STATES: dict[str, str] = {
    "ShipmentFunded": "funded",
    "DeliveryAttested": "attested",
    "DisputeOpened": "disputed",
    "DisputeResolved": "resolved",
    "ShipmentSettled": "settled",
    "MutuallyReleased": "settled",  # escrow v2: buyer and payee released it together
    "ShipmentRefunded": "refunded",
}
# Event args copied onto the view row when present (event arg name -> column).
_FIELDS = {
    "termsHash": "terms_hash",
    "buyer": "buyer",
    "payee": "payee",
    "amount": "amount",
    "payout": "payout",
    "refund": "refund",
    "excursionMinutes": "excursion_minutes",
    "evidenceRoot": "evidence_root",
    "deliveredAt": "delivered_at",
}


def followed_tip(session: Session) -> ChainBlock | None:
    """The highest block the follower has processed, or None before the first."""
    return session.scalar(select(ChainBlock).order_by(ChainBlock.number.desc()).limit(1))


def followed_block(session: Session, number: int) -> ChainBlock | None:
    """The followed block at `number`, if still kept."""
    return session.get(ChainBlock, number)


def record_block(
    session: Session, number: int, block_hash: str, parent_hash: str, timestamp: int
) -> None:
    """Remember that block `number` with `block_hash` has been processed."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise StoreValueError(f"block number must be a non-negative integer, got {number!r}")
    session.merge(
        ChainBlock(
            number=number,
            hash=hex32(block_hash, "block_hash"),
            parent_hash=hex32(parent_hash, "parent_hash"),
            timestamp=int(timestamp),
        )
    )
    session.flush()


def record_log(
    session: Session,
    *,
    block_number: int,
    block_hash: str,
    log_index: int,
    tx_hash: str,
    contract: str,
    event: str,
    subject: str,
    args: dict[str, Any],
) -> ChainLog | None:
    """Store one decoded log and fold it into the view; None if it was stored before."""
    block_hash = hex32(block_hash, "block_hash")
    existing = session.scalar(
        select(ChainLog.id).where(
            ChainLog.block_hash == block_hash, ChainLog.log_index == log_index
        )
    )
    if existing is not None:
        return None
    log = ChainLog(
        block_number=block_number,
        block_hash=block_hash,
        log_index=log_index,
        tx_hash=hex32(tx_hash, "tx_hash"),
        contract=contract,
        event=event[:64],
        subject=subject.lower(),
        args=args,
    )
    session.add(log)
    session.flush()
    if event == "RootAnchored":
        root = bytes_of(bytes.fromhex(str(args["root"]).removeprefix("0x")), 32, "root")
        brand = args.get("brand")
        session.merge(
            ChainRoot(
                root=root,
                leaf_count=int(args["leafCount"]),
                brand=None if not brand or int(str(brand), 16) == 0 else str(brand),
                block_number=block_number,
                block_hash=block_hash,
                tx_hash=log.tx_hash,
            )
        )
    elif "shipmentId" in args:
        _fold(session, log)
    session.flush()
    return log


def _fold(session: Session, log: ChainLog) -> None:
    row = session.get(EscrowView, (log.subject, log.contract))
    state = ESCROW_STATES.get(log.event)
    if row is None:
        if state is None:
            return  # an event about a shipment never funded on this chain: nothing to show
        row = EscrowView(
            shipment_id=log.subject,
            contract=log.contract,
            state=state,
            block_number=0,
            tx_hash=log.tx_hash,
        )
        session.add(row)
    if state is not None:
        row.state = state
    for arg, column in _FIELDS.items():
        if arg in log.args:
            value = log.args[arg]
            setattr(row, column, int(value) if isinstance(value, int | float) else str(value))
    if log.event == "ShipmentRefunded":
        row.payout, row.refund = 0, row.amount
    row.block_number, row.tx_hash = log.block_number, log.tx_hash


def rollback_from(session: Session, number: int) -> set[str]:
    """Forget blocks >= `number` and everything derived from them; the shipments touched."""
    touched = set(
        session.scalars(
            select(ChainLog.subject).where(
                ChainLog.block_number >= number, ChainLog.event.in_(list(ESCROW_STATES))
            )
        )
    )
    session.execute(delete(ChainLog).where(ChainLog.block_number >= number))
    session.execute(delete(ChainRoot).where(ChainRoot.block_number >= number))
    session.execute(delete(ChainBlock).where(ChainBlock.number >= number))
    session.flush()
    for shipment_id in touched:
        rebuild_escrow(session, shipment_id)
    return touched


def rebuild_escrow(session: Session, shipment_id: str) -> EscrowView | None:
    """Fold a shipment's stored logs again from scratch (after a reorg removed some)."""
    shipment_id = shipment_id.lower()
    session.execute(delete(EscrowView).where(EscrowView.shipment_id == shipment_id))
    session.flush()
    logs = session.scalars(
        select(ChainLog)
        .where(ChainLog.subject == shipment_id)
        .order_by(ChainLog.block_number, ChainLog.log_index)
    )
    for log in logs:
        _fold(session, log)
    session.flush()
    return escrow_view(session, shipment_id)


def prune_blocks(session: Session, below: int) -> int:
    """Drop followed-block hashes below `below` (too deep to reorg); logs and views stay.

    Blocks that hold stored logs are kept: their timestamps are the times of those events
    (an attestation's block time starts the dispute window).
    """
    with_logs = select(ChainLog.block_number).where(ChainLog.block_number < below)
    result = session.execute(
        delete(ChainBlock).where(ChainBlock.number < below, ChainBlock.number.not_in(with_logs))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _pick(rows: Iterable[EscrowView], terms_hash: str | None) -> EscrowView | None:
    """The row under `terms_hash` (None if there is none: another deposit under the same id is
    not the shipment's); without a terms hash, the earliest funded row."""
    ordered = sorted(rows, key=lambda r: r.block_number)
    if terms_hash is None:
        return ordered[0] if ordered else None
    wanted = terms_hash.lower()
    return next((r for r in ordered if r.terms_hash == wanted), None)


def escrow_view(
    session: Session, shipment_id: str, terms_hash: str | None = None
) -> EscrowView | None:
    """What the followed chain shows for a shipment (0x-hex id), or None.

    An id may hold deposits in more than one escrow release; the shipment's own is the one
    under its `terms_hash` (a v1 and a v2 terms hash never coincide).
    """
    rows = session.scalars(
        select(EscrowView).where(EscrowView.shipment_id == str(shipment_id).lower())
    )
    return _pick(rows, terms_hash)


def escrow_views(
    session: Session, shipments: Iterable[tuple[str, str | None]]
) -> dict[str, EscrowView]:
    """The followed escrow of several (shipment id, terms hash), by lowercase 0x-hex id."""
    hashes = {str(sid).lower(): th for sid, th in shipments}
    if not hashes:
        return {}
    rows = session.scalars(select(EscrowView).where(EscrowView.shipment_id.in_(sorted(hashes))))
    by_id: dict[str, list[EscrowView]] = {}
    for row in rows:
        by_id.setdefault(row.shipment_id, []).append(row)
    picked = {sid: _pick(found, hashes[sid]) for sid, found in by_id.items()}
    return {sid: row for sid, row in picked.items() if row is not None}


def last_log(session: Session, subject: str, event: str) -> ChainLog | None:
    """The latest stored `event` log about `subject`, or None."""
    return session.scalar(
        select(ChainLog)
        .where(ChainLog.subject == subject.lower(), ChainLog.event == event)
        .order_by(ChainLog.block_number.desc(), ChainLog.log_index.desc())
        .limit(1)
    )


def log_time(session: Session, log: ChainLog) -> int | None:
    """The timestamp of the block that holds `log`, or None if its header was not kept."""
    block = session.get(ChainBlock, log.block_number)
    if block is None or block.hash != log.block_hash or block.timestamp == 0:
        return None
    return int(block.timestamp)


def chain_root(session: Session, root: bytes) -> ChainRoot | None:
    """The followed chain's record of `root`, or None if no RootAnchored was seen for it."""
    return session.get(ChainRoot, bytes_of(root, 32, "root"))


def chain_logs(session: Session, subject: str, events: Iterable[str] = ()) -> list[ChainLog]:
    """Stored logs about `subject` (shipment id, root or account), oldest first."""
    stmt = select(ChainLog).where(ChainLog.subject == subject.lower())
    wanted = list(events)
    if wanted:
        stmt = stmt.where(ChainLog.event.in_(wanted))
    return list(session.scalars(stmt.order_by(ChainLog.block_number, ChainLog.log_index)))


def withdrawn_total(session: Session, account: str) -> int:
    """Wei the followed chain shows `account` has withdrawn (sum of Withdrawn events)."""
    return sum(
        int(log.args.get("amount", 0)) for log in chain_logs(session, account, ["Withdrawn"])
    )


def followed_height(session: Session) -> int | None:
    """The number of the highest followed block, or None."""
    value = session.scalar(select(func.max(ChainBlock.number)))
    return None if value is None else int(value)


def recent_blocks(session: Session, from_number: int) -> list[tuple[int, str]]:
    """(number, hash) of followed blocks at or above `from_number`, lowest first."""
    rows = session.execute(
        select(ChainBlock.number, ChainBlock.hash)
        .where(ChainBlock.number >= from_number)
        .order_by(ChainBlock.number)
    )
    return [(int(number), str(block_hash)) for number, block_hash in rows]
