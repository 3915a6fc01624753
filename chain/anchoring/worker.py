"""The anchoring worker: pending leaves -> one Merkle root per batch -> TraceAnchor -> finality.

A batch's signed transaction is committed to the store (status sent) before it is broadcast,
so a crash at any point resends the same bytes; the chain is read (receipt, rootInfo) before
every broadcast, so a root is never sent twice once it is on chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

import store
from chain.anchoring.finality import BlockStatus, FinalityTracker
from chain.anchoring.lease import LeaseLost, SenderLease, lease_name
from chain.anchoring.transactions import AnchorTransactions, store_replacement
from chain.clients.trace_anchor_v2 import trace_anchors
from chain.durable_tx import DurableSender, Step
from chain.errors import ChainError, ChainValueError, ContractRevert, DeploymentNotFound
from chain.follower import ChainFollower
from chain.polling import PollingWorker
from chain.settings import AnchorSettings
from chain.solidity_errors import AnchorRootExists, AnchorUnknownBrand
from chain.toolchain.deploy import Deployment
from chain.transactions import chain_errors, receipt_or_none
from core.hexstr import hex0x
from core.merkle import MerkleTree
from store.errors import LeavesTakenError
from store.models import BatchStatus, Leaf
from store.models.types import utcnow
from store.outbox import claim_pending

_LOGGER = logging.getLogger(__name__)

# Batches closed per run_once: keeps one pass short when a large backlog waits.
_MAX_BATCHES_PER_PASS = 50
# After a broadcast, wait this long for the receipt (instant on a dev node) before moving on.
_RECEIPT_WAIT = 2.0
# The highest leaf kind each TraceAnchor release verifies (DESIGN: v1 kinds 0-1, v2 every
# kind); a release not listed verifies every kind. Leaves of a higher kind wait in the outbox
# until a release that verifies them is deployed: a root holding them goes to no other.
_MAX_KIND_VERIFIED = {1: 1}


def max_kind_verified(version: int) -> int | None:
    """The highest leaf kind TraceAnchor release `version` verifies (None: every kind)."""
    return _MAX_KIND_VERIFIED.get(version)


def verifies_kind(version: int, kind: int) -> bool:
    """Whether TraceAnchor release `version` verifies leaves of `kind`."""
    highest = max_kind_verified(version)
    return highest is None or kind <= highest


@dataclass
class AnchorReport:
    """What one run_once did, by batch id."""

    signed: list[int] = field(default_factory=list)  # signed and stored, not yet broadcast
    broadcast: list[int] = field(default_factory=list)
    anchored: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    final: list[int] = field(default_factory=list)
    reorged: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)  # stuck tx re-signed with higher fees
    standby: bool = False  # another worker holds the sender lease: nothing was done


@dataclass(frozen=True)
class _SentBatch:
    id: int
    root: bytes
    leaf_count: int
    tx_hash: str
    raw_tx: bytes
    anchor_version: int
    brand: str | None  # the brand that signed the root, None for a platform batch


class AnchorWorker(PollingWorker):
    """Anchors the store's outbox on TraceAnchor with the anchorer key; run() until stop()."""

    def __init__(
        self,
        settings: AnchorSettings,
        sessions: sessionmaker[Session] | Engine,
        w3: Web3,
        account: LocalAccount,
        deployment: Deployment,
        *,
        lease_holder: str | None = None,
    ) -> None:
        super().__init__(settings.poll_interval)
        self.settings = settings
        self.sessions = store.session_factory(sessions)
        self.w3 = w3
        self.account = account
        # Every TraceAnchor release deployed: batches stored for an earlier one still go there.
        self.tx = AnchorTransactions(w3, account, trace_anchors(w3, deployment.releases))
        self.sender = DurableSender(w3, account, settings.replace_after_blocks)
        self.anchor = self.tx.anchor  # where new roots go
        self.finality = FinalityTracker(w3, settings.finality, settings.confirmations)
        # Every state write goes through the lease: a worker that lost it cannot commit.
        self.lease = SenderLease(
            self.sessions,
            lease_name(deployment.chain_id, account.address),
            settings.lease_ttl,
            lease_holder,
        )
        self.follower = (
            ChainFollower(settings, self.sessions, w3, deployment)
            if settings.follow_chain
            else None
        )
        self._waiting_brand: set[int] = set()
        # batch id -> (tx hash, first block it was seen pending): replacement after N blocks.
        self._pending_since: dict[int, tuple[str, int]] = {}

    # ---------------------------------------------------------------- loop

    activity = "anchoring"

    def run(self) -> None:
        """Poll until stop(), then hand the sender lease back."""
        _LOGGER.info("anchoring as %s on %s", self.account.address, self.anchor.address)
        super().run()
        try:
            self.lease.release()
        except Exception:  # the database may be the reason we stop
            _LOGGER.warning("could not release the sender lease; it expires by itself")

    def run_once(self) -> AnchorReport:
        """Close due batches, broadcast and track sent ones, advance anchored ones, follow."""
        report = AnchorReport()
        if not self.lease.acquire():
            report.standby = True
            return report
        try:
            self.close_batches(report)
            self.track_sent(report)
            self.track_anchored(report)
        except LeaseLost as exc:
            _LOGGER.warning("stopped mid-pass: %s", exc)
            report.standby = True
            return report
        if self.follower is not None:
            try:
                self.follower.run_once()
            except Exception:  # the view is derived: a failed pass is redone next time
                _LOGGER.exception("following the chain failed; retrying next pass")
        return report

    # ---------------------------------------------------------------- closing batches

    def close_batches(self, report: AnchorReport | None = None) -> list[int]:
        """Turn due pending leaves into signed, stored batches (status sent, not yet broadcast).

        Batches created elsewhere and left pending (the API's brand-signed commissioning
        batches) are signed first.
        """
        report = report if report is not None else AnchorReport()
        with store.read_transaction(self.sessions) as session:
            unsigned = [b.id for b in store.batches_by_status(session, BatchStatus.PENDING)]
        for unsigned_id in unsigned:
            if self._sign_stored(unsigned_id, report) is not None:
                report.signed.append(unsigned_id)
        closed: list[int] = []
        base: dict[str, Any] = {}  # chain id, fees, pending nonce: read once per pass
        for _ in range(_MAX_BATCHES_PER_PASS):
            batch_id = self._close_one(base)
            if batch_id is None:
                break
            closed.append(batch_id)
        report.signed.extend(closed)
        return closed

    def _close_one(self, base: dict[str, Any]) -> int | None:
        # Only the writes happen in the write transaction (on SQLite it holds the database's
        # write lock, which every producer of events waits for): the leaves are read (read-only,
        # so without that lock) and the tree built before it, the chain reads before both.
        with store.read_transaction(self.sessions) as session:
            if not self._batch_due(session):
                return None
            # Only (id, leaf hash) rows: no ORM objects, no event JSON (perf at 10k leaves).
            leaves = claim_pending(
                session, self.settings.max_batch_size, max_kind=max_kind_verified(self.tx.newest)
            )
        if not leaves:
            return None
        tree = MerkleTree.build([leaf.leaf_hash for leaf in leaves])
        if not base:
            # The nonce comes from the store (past every sent batch), so one read serves a pass.
            base.update(self.tx.base(self.tx.gas_for(None)))
        try:
            with self.lease.write() as session:
                # Checks each leaf is still pending: another writer may have batched some.
                batch = store.create_batch(session, tree, leaves, anchor_version=self.tx.newest)
                call = self.tx.call_for(session, tree.root, len(leaves))
                self.tx.sign_into(session, batch, call, base)
                return batch.id
        except LeavesTakenError as exc:
            _LOGGER.info("batch not closed, read again next pass: %s", exc)
            return None

    def _sign_stored(self, batch_id: int, report: AnchorReport) -> tuple[str, bytes] | None:
        """(Re-)sign a stored batch with a fresh nonce: (tx hash, raw tx), or None if not now."""
        try:
            with store.read_transaction(self.sessions) as session:
                batch = store.get_batch(session, batch_id)
                call = self.tx.call_for(session, batch.root, batch.leaf_count)
            gas = self.tx.gas_for(call)
        except AnchorRootExists:
            # On chain already: signed for the record only, the tracking step adopts it.
            gas = 2 * self.tx.gas_for(None)
        except AnchorUnknownBrand as exc:
            if batch_id not in self._waiting_brand:  # once, not every poll
                self._waiting_brand.add(batch_id)
                _LOGGER.warning("batch %d waits: %s is not a registered brand yet", batch_id, exc)
            return None
        except DeploymentNotFound as exc:  # a local condition, never the chain's refusal
            if batch_id not in self._waiting_brand:
                self._waiting_brand.add(batch_id)
                _LOGGER.error("batch %d waits: %s", batch_id, exc)
            return None
        except (ContractRevert, ChainValueError) as exc:
            # A root the contract refuses for its brand (revoked, compromised, bad signature) can
            # never anchor: the batch fails with its leaves, which go into no platform root.
            with self.lease.write() as session:
                batch = store.get_batch(session, batch_id)
                self.tx.refuse_commissioning(session, batch.root, str(exc))
                store.mark_failed(session, batch_id, f"cannot relay: {exc}")
            _LOGGER.error("batch %d failed: %s", batch_id, exc)
            report.failed.append(batch_id)
            return None
        base = self.tx.base(gas, call.to)
        with self.lease.write() as session:
            batch = store.get_batch(session, batch_id, for_update=True)
            if batch.status not in (BatchStatus.PENDING, BatchStatus.SENT):
                return None
            self.tx.sign_into(session, batch, call, base)
            return str(batch.tx_hash), bytes(batch.raw_tx or b"")

    def _batch_due(self, session: Session) -> bool:
        # Bounded reads: a backlog of millions must not make each check a full scan.
        waiting: list[ColumnElement[bool]] = [Leaf.batch_id.is_(None)]
        max_kind = max_kind_verified(self.tx.newest)
        if max_kind is not None:
            waiting.append(Leaf.kind <= max_kind)
        pending = select(Leaf.id).where(*waiting)
        oldest = session.scalar(select(Leaf.created_at).where(*waiting).order_by(Leaf.id).limit(1))
        if oldest is None:
            return False
        limited = pending.limit(self.settings.max_batch_size).subquery()
        if (session.scalar(select(func.count()).select_from(limited)) or 0) >= (
            self.settings.max_batch_size
        ):
            return True
        return bool(utcnow() - oldest >= timedelta(seconds=self.settings.max_batch_delay))

    # ---------------------------------------------------------------- sent batches

    def track_sent(self, report: AnchorReport | None = None) -> None:
        """For each sent batch: record its receipt, adopt a root already on chain, or broadcast."""
        report = report if report is not None else AnchorReport()
        with store.read_transaction(self.sessions) as session:
            sent = [
                _SentBatch(
                    b.id,
                    b.root,
                    b.leaf_count,
                    str(b.tx_hash),
                    bytes(b.raw_tx or b""),
                    b.anchor_version,
                    b.brand_address,
                )
                for b in store.batches_by_status(session, BatchStatus.SENT)
            ]
        sent_ids = {batch.id for batch in sent}
        self._pending_since = {k: v for k, v in self._pending_since.items() if k in sent_ids}
        broadcast: list[int] = []
        for batch in sent:
            try:
                if self._track_one_sent(batch, report):
                    broadcast.append(batch.id)
            except ChainError as exc:
                # The node is down or refused: the batch stays sent and is retried next pass.
                _LOGGER.warning("batch %d: %s", batch.id, exc)
        if broadcast:
            try:
                self._await_receipts(broadcast, report)
            except ChainError as exc:
                _LOGGER.warning("waiting for receipts: %s", exc)

    def _await_receipts(self, batch_ids: list[int], report: AnchorReport) -> None:
        """Wait briefly for the last broadcast tx (nonce order), then record what mined."""
        with store.read_transaction(self.sessions) as session:
            hashes = [(i, str(store.get_batch(session, i).tx_hash)) for i in batch_ids]
        receipt_or_none(self.w3, hashes[-1][1], wait=_RECEIPT_WAIT)
        for batch_id, tx_hash in hashes:
            receipt = receipt_or_none(self.w3, tx_hash)
            if receipt is not None and receipt["status"] == 1:
                self._record_anchored(batch_id, receipt)
                report.anchored.append(batch_id)

    def _track_one_sent(self, batch: _SentBatch, report: AnchorReport) -> bool:
        """Record, adopt, fail, wait or (re)broadcast one sent batch; True if broadcast now."""
        receipt = receipt_or_none(self.w3, batch.tx_hash)
        if receipt is not None and receipt["status"] == 1:
            self._record_anchored(batch.id, receipt)
            report.anchored.append(batch.id)
            return False
        # Read the chain before any broadcast: the root may be on chain through another tx.
        if self.tx.client_for(batch.anchor_version).root_info(batch.root).anchored:
            (report.adopted if self._adopt(batch) else report.failed).append(batch.id)
            return False
        if receipt is not None:
            # Mined, reverted, and the root is not on chain: this root cannot be anchored.
            error = f"anchor tx {batch.tx_hash} reverted in block {receipt['blockNumber']}"
            self.tx.forget_gas()
            with self.lease.write() as session:
                self.tx.refuse_commissioning(session, batch.root, error)
                store.mark_failed(session, batch.id, error)
            _LOGGER.error("batch %d failed: %s", batch.id, error)
            report.failed.append(batch.id)
            return False
        # First seen unmined at this block (the stored row has no such column): replacement counts
        # from here; a replaced tx starts again.
        since = self._pending_since.get(batch.id, ("", self.sender.head()))
        if since[0] != batch.tx_hash:
            since = self._pending_since[batch.id] = (batch.tx_hash, self.sender.head())
        step = self.sender.follow(batch.tx_hash, batch.raw_tx, since[1])
        if step is Step.SENT:
            _LOGGER.info("batch %d: broadcast %s", batch.id, batch.tx_hash)
            report.broadcast.append(batch.id)
            return True
        if step is Step.REPLACE:
            self._replace(batch, report)
        elif step is Step.NONCE_USED:
            return self._resign(batch, report)
        elif step is Step.UNDERPRICED:
            _LOGGER.warning("batch %d: tx %s refused for its fees", batch.id, batch.tx_hash)
        return False

    def _resign(self, batch: _SentBatch, report: AnchorReport) -> bool:
        """The nonce went to another tx (e.g. a reorg replayed a different one): the same call
        at a new nonce, stored before it is broadcast as the first one was."""
        signed = self._sign_stored(batch.id, report)
        if signed is None:
            return False
        _LOGGER.warning("batch %d: nonce used elsewhere, re-signed as %s", batch.id, signed[0])
        self.sender.broadcast(signed[1])
        report.broadcast.append(batch.id)
        return True

    def _replace(self, batch: _SentBatch, report: AnchorReport) -> None:
        """Re-sign with fees bumped >= 12.5 % (stored first), then send."""
        waited = self.sender.head() - self._pending_since[batch.id][1]
        new = self.sender.replacement(batch.raw_tx)
        with self.lease.write() as session:
            stored = store.get_batch(session, batch.id, for_update=True)
            if stored.status is not BatchStatus.SENT or stored.tx_hash != batch.tx_hash:
                return  # another pass moved it on
            store_replacement(session, stored, new)
        _LOGGER.warning(
            "batch %d: tx %s unmined for %d blocks; replaced by %s (nonce %s, fees bumped)",
            *(batch.id, batch.tx_hash, waited, new.tx_hash, new.nonce),
        )
        self._pending_since[batch.id] = (new.tx_hash, self.sender.head())
        report.replaced.append(batch.id)
        try:
            self.sender.broadcast(new.raw_tx)
            report.broadcast.append(batch.id)
        except ChainError as exc:
            # Stored already: the next pass sends it again, or adopts whichever tx mined.
            _LOGGER.warning("batch %d: replacement not accepted yet: %s", batch.id, exc)

    def _adopt(self, batch: _SentBatch) -> bool:
        """The root is on chain already: record the block and tx that anchored it; send nothing.
        False (the batch failed) if a brand's root is on chain under another signer."""
        client = self.tx.client_for(batch.anchor_version)
        info = client.root_info(batch.root)
        with chain_errors():
            block = self.w3.eth.get_block(info.block_number)
            logs = client.contract.events.RootAnchored().get_logs(
                argument_filters={"root": batch.root},
                from_block=info.block_number,
                to_block=info.block_number,
            )
        tx_hash = hex0x(logs[0]["transactionHash"]) if logs else None
        if info.leaf_count != batch.leaf_count:
            _LOGGER.warning(
                "batch %d: root on chain with leafCount %d brand %s (batch has %d leaves)",
                batch.id,
                info.leaf_count,
                info.brand,
                batch.leaf_count,
            )
        if batch.brand is not None and info.brand != batch.brand:
            # Another signer anchored the brand's root first (a registered brand copying the
            # pending relay, or the anchorer as a platform root): what is on chain is not the
            # brand's word, so it is not recorded as its anchoring. Its leaves stay with it.
            error = (
                f"root anchored on chain in block {info.block_number} signed by "
                f"{info.brand or 'the platform (no brand)'}, not by {batch.brand or 'the platform'}"
            )
            with self.lease.write() as session:
                self.tx.refuse_commissioning(session, batch.root, error)
                store.mark_failed(session, batch.id, error)
            _LOGGER.error("batch %d failed: %s", batch.id, error)
            return False
        with self.lease.write() as session:
            store.mark_anchored(
                session,
                batch.id,
                block_number=info.block_number,
                block_hash=hex0x(block["hash"]),
                tx_hash=tx_hash,
            )
        _LOGGER.info(
            "batch %d: root already on chain in block %d, adopted", batch.id, info.block_number
        )
        return True

    def _record_anchored(self, batch_id: int, receipt: Any) -> None:
        with self.lease.write() as session:
            store.mark_anchored(
                session,
                batch_id,
                block_number=int(receipt["blockNumber"]),
                block_hash=hex0x(receipt["blockHash"]),
                gas_used=int(receipt["gasUsed"]),
                tx_hash=hex0x(receipt["transactionHash"]),
            )
        _LOGGER.info("batch %d: anchored in block %d", batch_id, receipt["blockNumber"])

    # ---------------------------------------------------------------- anchored batches

    def track_anchored(self, report: AnchorReport | None = None) -> None:
        """Mark anchored batches final when their block is; send reorged ones back to sent."""
        report = report if report is not None else AnchorReport()
        with store.read_transaction(self.sessions) as session:
            anchored = [
                (b.id, int(b.block_number or 0), bytes.fromhex(str(b.block_hash)[2:]))
                for b in store.batches_by_status(session, BatchStatus.ANCHORED)
            ]
        if not anchored:
            return
        with chain_errors():
            head = self.finality.head()
            for batch_id, number, block_hash in anchored:
                status = self.finality.status(number, block_hash, head)
                if status is BlockStatus.FINAL:
                    with self.lease.write() as session:
                        store.mark_final(session, batch_id)
                    _LOGGER.info("batch %d: final (block %d)", batch_id, number)
                    report.final.append(batch_id)
                elif status is BlockStatus.REORGED:
                    with self.lease.write() as session:
                        store.reset_to_sent(session, batch_id)
                    _LOGGER.warning("batch %d: block %d left the chain (reorg)", batch_id, number)
                    report.reorged.append(batch_id)
