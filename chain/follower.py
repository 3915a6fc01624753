"""A reorg-aware follower of TraceAnchor's and ShipmentEscrow's events into the store's view.

Each pass re-checks the hashes of the recently followed blocks; the first that is no longer
canonical rolls the view back to just below it (store.chain_view.rollback_from), and the
range is read again. Logs are decoded by the contracts' ABIs, so events that new contract
versions add (disputes) are recorded as they appear.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import BlockNotFound

import store
from chain.artifacts import abi_signature
from chain.clients import ShipmentEscrowClient, TraceAnchorClient
from chain.deploy import Deployment
from chain.polling import PollingWorker
from chain.settings import FollowSettings
from chain.transactions import chain_errors
from store import chain_view

_LOGGER = logging.getLogger(__name__)


@dataclass
class FollowReport:
    """What one pass did: blocks read, logs stored, and where a reorg rolled the view back."""

    from_block: int | None = None
    to_block: int | None = None
    logs: int = 0
    reorged_from: int | None = None


def _plain(value: Any) -> Any:
    """Decoded event args as JSON: bytes as 0x-hex, addresses as given, ints as ints."""
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


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
        self.start_block = min(deployment.trace_anchor_block, deployment.shipment_escrow_block)
        self._events: dict[bytes, tuple[Any, str, str]] = {}
        for client in (
            TraceAnchorClient(w3, deployment.trace_anchor),
            ShipmentEscrowClient(w3, deployment.shipment_escrow),
        ):
            for entry in client.contract.abi:
                event: dict[str, Any] = dict(entry)
                if event.get("type") == "event" and not event.get("anonymous"):
                    topic = bytes(Web3.keccak(text=abi_signature(event)))
                    self._events[topic] = (client.contract, str(event["name"]), client.address)
        self.addresses = [deployment.trace_anchor, deployment.shipment_escrow]

    activity = "chain following"

    def run_once(self) -> FollowReport:
        """Undo what a reorg replaced, then read logs up to the head (at most max_range blocks)."""
        report = FollowReport()
        report.reorged_from = self._undo_reorg()
        with store.transaction(self.sessions) as session:
            tip = chain_view.followed_height(session)
        with chain_errors():
            head = int(self.w3.eth.block_number)
        start = self.start_block if tip is None else tip + 1
        if start > head:
            return report
        end = min(head, start + self.settings.follow_max_range - 1)
        report.from_block, report.to_block = start, end
        with chain_errors():
            last = self.w3.eth.get_block(end)
            logs = self.w3.eth.get_logs(
                {"address": self.addresses, "fromBlock": start, "toBlock": end}  # type: ignore[typeddict-item]
            )
        with store.transaction(self.sessions) as session:
            blocks: dict[int, str] = {}
            for log in logs:
                if log.get("removed"):
                    continue
                report.logs += self._record(session, log)
                blocks[int(log["blockNumber"])] = "0x" + bytes(log["blockHash"]).hex()
            for number, block_hash in sorted(blocks.items()):
                if number != end:
                    # Checkpoints: each block with logs, so a reorg of it is seen next pass.
                    chain_view.record_block(session, number, block_hash, block_hash, 0)
            chain_view.record_block(
                session, end, "0x" + bytes(last["hash"]).hex(),
                "0x" + bytes(last["parentHash"]).hex(), int(last["timestamp"]),
            )  # fmt: skip
            chain_view.prune_blocks(session, end - 4 * self.settings.follow_reorg_depth)
        if report.logs:
            _LOGGER.info("followed blocks %d..%d: %d logs", start, end, report.logs)
        return report

    def _record(self, session: Session, log: Any) -> int:
        topics = log.get("topics") or []
        known = self._events.get(bytes(topics[0])) if topics else None
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
            block_hash="0x" + bytes(log["blockHash"]).hex(),
            log_index=int(log["logIndex"]),
            tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            contract=address,
            event=name,
            subject=subject,
            args=args,
        )
        return 0 if stored is None else 1

    def _undo_reorg(self) -> int | None:
        """Roll the view back below the lowest recent checkpoint whose hash left the chain."""
        with store.transaction(self.sessions) as session:
            tip = chain_view.followed_height(session)
            if tip is None:
                return None
            recent = chain_view.recent_blocks(session, tip - self.settings.follow_reorg_depth)
        for number, block_hash in recent:  # lowest first
            with chain_errors():
                try:
                    canonical = "0x" + bytes(self.w3.eth.get_block(number)["hash"]).hex()
                except BlockNotFound:
                    canonical = ""
            if canonical != block_hash:
                with store.transaction(self.sessions) as session:
                    touched = chain_view.rollback_from(session, number)
                _LOGGER.warning(
                    "reorg: block %d changed; view rolled back (%d shipments)", number, len(touched)
                )
                return number
        return None
