"""A reorg-aware follower of TraceAnchor's and ShipmentEscrow's events into the store's view.

Each pass re-checks the hashes of the recently followed blocks; the first that is no longer
canonical rolls the view back to just below it (store.chain_view.rollback_from), and the
range is read again. Logs are decoded by the contracts' ABIs, so events that new contract
versions add (disputes) are recorded as they appear.

The follower is also where a shipment's funding reaches its status: created -> funded when the
view shows its deposit, funded -> created when a reorg takes the deposit away (the API only
reads).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import BlockNotFound

import store
from chain.clients import (
    ContractClient,
    ShipmentEscrowClient,
    ShipmentEscrowV2Client,
    TraceAnchorClient,
    TraceAnchorV2Client,
)
from chain.errors import ChainError
from chain.polling import PollingWorker
from chain.settings import FollowSettings
from chain.toolchain.artifacts import abi_signature
from chain.toolchain.deploy import Deployment
from chain.transactions import chain_errors
from core.hexstr import hex0x
from store import chain_view
from store.kv import get_setting, set_setting
from store.shipments import follow_funding, funding_due

_LOGGER = logging.getLogger(__name__)


@dataclass
class FollowReport:
    """What one pass did: blocks read, logs stored, and where a reorg rolled the view back."""

    from_block: int | None = None
    to_block: int | None = None
    logs: int = 0
    reorged_from: int | None = None
    funded: list[str] = field(default_factory=list)  # shipments moved created -> funded
    unfunded: list[str] = field(default_factory=list)  # a reorg removed their funding


def _plain(value: Any) -> Any:
    """Decoded event args as JSON: bytes as 0x-hex, addresses as given, ints as ints, structs
    as objects by field name."""
    if isinstance(value, bytes | bytearray | HexBytes):
        return hex0x(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):  # a struct (escrow v2's EvidenceSubmitted reading)
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# The follower's record of the contracts it has read ({address: next block, or -1 when caught up}).
_FOLLOWED_KEY = "follower.contracts"
_DONE = -1

# The arg that names what an event is about (for lookups), in order of preference.
_SUBJECT_ARGS = ("shipmentId", "root", "account", "brand", "device")


class ChainFollower(PollingWorker):
    """Follows both contracts' logs into store.chain_view; run() until stop(), or run_once()."""

    def __init__(
        self,
        settings: FollowSettings,
        sessions: sessionmaker[Session],
        w3: Web3,
        deployment: Deployment,
    ) -> None:
        super().__init__(settings.poll_interval)
        self.settings = settings
        self.sessions = sessions
        self.w3 = w3
        self.start_block = deployment.first_block
        # (contract, topic) -> how to decode it: v1 and v2 escrows share event signatures.
        self._events: dict[tuple[str, bytes], tuple[Any, str, str]] = {}
        clients: list[ContractClient] = [
            TraceAnchorClient(w3, deployment.trace_anchor),
            ShipmentEscrowClient(w3, deployment.shipment_escrow),
        ]
        if deployment.shipment_escrow_v2 is not None:
            clients.append(ShipmentEscrowV2Client(w3, deployment.shipment_escrow_v2))
        if deployment.trace_anchor_v2 is not None:
            clients.append(TraceAnchorV2Client(w3, deployment.trace_anchor_v2))
        for client in clients:
            for entry in client.contract.abi:
                event: dict[str, Any] = dict(entry)
                if event.get("type") == "event" and not event.get("anonymous"):
                    topic = bytes(Web3.keccak(text=abi_signature(event)))
                    key = (client.address.lower(), topic)
                    self._events[key] = (client.contract, str(event["name"]), client.address)
        self.addresses = [client.address for client in clients]
        blocks = {r.address.lower(): r.block for r in deployment.releases}
        self._release_blocks = {
            a.lower(): blocks.get(a.lower(), self.start_block) for a in self.addresses
        }
        self._batch_refusal: str | None = None

    activity = "chain following"

    def run_once(self) -> FollowReport:
        """Undo what a reorg replaced, then read logs up to the head (at most max_range blocks).

        Shipment statuses follow in the same transactions: created -> funded once the view
        shows the deposit, and back to created when a reorg takes the deposit away.
        """
        report = FollowReport()
        self._undo_reorg(report)
        with store.read_transaction(self.sessions) as session:
            tip = chain_view.followed_height(session)
        self._backfill(tip, report)
        with chain_errors():
            head = int(self.w3.eth.block_number)
        start = self.start_block if tip is None else tip + 1
        if start > head:
            # Nothing new on chain: a shipment stored after its deposit was followed may still
            # be fundable. Looked up read-only, so an idle pass takes no write lock.
            with store.read_transaction(self.sessions) as session:
                due = funding_due(session)
            if due:
                with store.transaction(self.sessions) as session:
                    report.funded += follow_funding(session)[0]
            return report
        end = min(head, start + self.settings.follow_max_range - 1)
        report.from_block, report.to_block = start, end
        with chain_errors():
            last = self.w3.eth.get_block(end)
            logs = self.w3.eth.get_logs(
                {"address": self.addresses, "fromBlock": start, "toBlock": end}  # type: ignore[typeddict-item]
            )
        live = [log for log in logs if not log.get("removed")]
        headers = self._headers(live)
        headers.setdefault(end, _header(last))
        with store.transaction(self.sessions) as session:
            for log in live:
                report.logs += self._record(session, log)
            # Each block with logs is a checkpoint (a reorg of it is seen next pass) and keeps
            # its timestamp, the time of its events; the last block read marks the tip.
            for number, (block_hash, parent_hash, timestamp) in sorted(headers.items()):
                chain_view.record_block(session, number, block_hash, parent_hash, timestamp)
            chain_view.prune_blocks(session, end - 4 * self.settings.follow_reorg_depth)
            report.funded += follow_funding(session)[0]
        if report.logs:
            _LOGGER.info("followed blocks %d..%d: %d logs", start, end, report.logs)
        for shipment_id in report.funded:
            _LOGGER.info("shipment %s funded on chain", shipment_id)
        return report

    def _backfill(self, tip: int | None, report: FollowReport) -> None:
        """Read the logs of contracts the view has not followed from their deployment block (a
        release added by an upgrade while the view was already past it, or a view kept by an
        earlier chaintrace), one range a pass, up to the view's tip. Logs already stored are
        skipped, so reading a range again changes nothing."""
        with store.read_transaction(self.sessions) as session:
            stored: dict[str, int] = dict(get_setting(session, _FOLLOWED_KEY, {}))
        cursors = dict(stored)
        if tip is None:  # a new view: the normal pass reads every contract from the start
            cursors.update(dict.fromkeys(self._release_blocks, _DONE))
        behind = {
            a: cursors.get(a, block)
            for a, block in self._release_blocks.items()
            if cursors.get(a, block) != _DONE
        }
        start = min(behind.values(), default=None)
        if tip is None or start is None or start > tip:
            cursors.update(dict.fromkeys(behind, _DONE))
            if cursors != stored:  # written once; an idle pass takes no write lock
                with store.transaction(self.sessions) as session:
                    set_setting(session, _FOLLOWED_KEY, cursors)
            return
        end = min(tip, start + self.settings.follow_max_range - 1)
        addresses = [a for a in self.addresses if a.lower() in behind]
        with chain_errors():
            logs = self.w3.eth.get_logs(
                {"address": addresses, "fromBlock": start, "toBlock": end}  # type: ignore[typeddict-item]
            )
        live = [log for log in logs if not log.get("removed")]
        headers = self._headers(live)
        with store.transaction(self.sessions) as session:
            for number, (block_hash, _parent, _time) in headers.items():
                # Below the tip the view's checkpoints stand: a block that changed since is a
                # reorg for _undo_reorg to roll back first (the whole range is read again).
                known = chain_view.followed_block(session, number)
                if known is not None and known.hash != block_hash:
                    raise ChainError(
                        f"block {number} changed since it was followed; backfill waits for the"
                        " reorg to be undone"
                    )
            for log in live:
                report.logs += self._record(session, log)
            for number, (block_hash, parent_hash, timestamp) in sorted(headers.items()):
                chain_view.record_block(session, number, block_hash, parent_hash, timestamp)
            done = end >= tip
            for address in behind:
                cursors[address] = _DONE if done else max(cursors.get(address, 0), end + 1)
            set_setting(session, _FOLLOWED_KEY, cursors)
        _LOGGER.info("backfilled %s over blocks %d..%d: %d logs", addresses, start, end, len(live))

    def _headers(self, logs: list[Any]) -> dict[int, tuple[str, str, int]]:
        """(hash, parent hash, timestamp) of the blocks that hold `logs`, read by their hash,
        in batched requests."""
        wanted: dict[int, bytes] = {}
        for log in logs:
            wanted.setdefault(int(log["blockNumber"]), bytes(log["blockHash"]))
        if not wanted:
            return {}
        try:
            blocks = self._get_blocks([HexBytes(h) for h in wanted.values()])
        except _MissingBlock:
            # Reorged away since get_logs (or a lagging node behind a balancer): nothing of
            # this range is recorded; the next pass reads it again.
            raise ChainError(
                f"a block of the logs in blocks {min(wanted)}..{max(wanted)} is not known to"
                " the node; the range is read again next pass"
            ) from None
        return {n: _header(b) for n, b in zip(wanted, blocks, strict=True)}

    def _record(self, session: Session, log: Any) -> int:
        topics = log.get("topics") or []
        emitter = str(log.get("address", "")).lower()
        known = self._events.get((emitter, bytes(topics[0]))) if topics else None
        if known is None:
            return 0
        contract, name, address = known
        try:
            decoded = contract.events[name]().process_log(log)
        except Exception as exc:  # a log we cannot decode must not stop the follower
            _LOGGER.warning("undecodable %s log in block %s: %s", name, log["blockNumber"], exc)
            return 0
        args = {k: _plain(v) for k, v in dict(decoded["args"]).items()}
        subject = next((str(args[k]) for k in _SUBJECT_ARGS if k in args), address)
        stored = chain_view.record_log(
            session,
            block_number=int(log["blockNumber"]),
            block_hash=hex0x(log["blockHash"]),
            log_index=int(log["logIndex"]),
            tx_hash=hex0x(log["transactionHash"]),
            contract=address,
            event=name,
            subject=subject,
            args=args,
        )
        return 0 if stored is None else 1

    def _undo_reorg(self, report: FollowReport) -> None:
        """Roll the view back below the lowest recent checkpoint whose hash left the chain."""
        with store.read_transaction(self.sessions) as session:
            tip = chain_view.followed_height(session)
            if tip is None:
                return
            recent = chain_view.recent_blocks(session, tip - self.settings.follow_reorg_depth)
        canonical = self._canonical_hashes([number for number, _ in recent])
        for number, block_hash in recent:  # lowest first
            if canonical[number] != block_hash:
                with store.transaction(self.sessions) as session:
                    touched = chain_view.rollback_from(session, number)
                    funded, unfunded = follow_funding(session, touched)
                    report.funded += funded
                    report.unfunded += unfunded
                _LOGGER.warning(
                    "reorg: block %d changed; view rolled back (%d shipments, %d no longer funded)",
                    number,
                    len(touched),
                    len(report.unfunded),
                )
                report.reorged_from = number
                return

    def _canonical_hashes(self, numbers: list[int]) -> dict[int, str]:
        """The canonical hash at each height ("" above the head), in batched requests.

        A checkpoint's hash alone cannot vouch for those below it (each was read on its own,
        perhaps from another node behind a balancer), so every recent one is checked; batched,
        that is one round trip a pass, not one per block.
        """
        try:
            return {n: _hash(b) for n, b in zip(numbers, self._get_blocks(numbers), strict=True)}
        except _MissingBlock:  # the chain got shorter than a checkpoint: one at a time
            hashes = {}
            for number in numbers:
                with chain_errors():
                    try:
                        hashes[number] = _hash(self.w3.eth.get_block(number))
                    except BlockNotFound:
                        hashes[number] = ""
            return hashes

    def _get_blocks(self, ids: list[Any]) -> list[Any]:
        """eth_getBlock for each number or hash, FOLLOW_RPC_BATCH to a batched request.

        A batch the node refuses (too large for it, or no batches at all) is sent again one
        request at a time, so a real error surfaces from its own request. _MissingBlock if the
        node knows one of them not.
        """
        size = self.settings.follow_rpc_batch
        blocks: list[Any] = []
        with chain_errors():  # _MissingBlock is no web3 error: it passes through unchanged
            try:
                for start in range(0, len(ids), size):
                    blocks.extend(self._get_chunk(ids[start : start + size]))
            except BlockNotFound as exc:
                raise _MissingBlock(str(exc)) from None
        return blocks

    def _get_chunk(self, chunk: list[Any]) -> list[Any]:
        try:
            with self.w3.batch_requests() as batch:
                for block_id in chunk:
                    batch.add(self.w3.eth.get_block(block_id))
                return list(batch.execute())
        except BlockNotFound:
            raise
        except Exception as exc:  # the batch as a whole, refused: then one by one
            if self._batch_refusal != str(exc):  # log once, not every pass
                self._batch_refusal = str(exc)
                _LOGGER.warning(
                    "the node refused a batch of %d block reads (%s); reading them one at a time",
                    len(chunk),
                    exc,
                )
        return [self.w3.eth.get_block(block_id) for block_id in chunk]


class _MissingBlock(Exception):
    """A block the node does not know (by number: above its head; by hash: reorged away)."""


def _hash(block: Any) -> str:
    return hex0x(block["hash"])


def _header(block: Any) -> tuple[str, str, int]:
    return (
        _hash(block),
        hex0x(block["parentHash"]),
        int(block["timestamp"]),
    )
