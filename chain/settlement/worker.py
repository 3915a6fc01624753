"""The settlement worker: received shipments -> oracle attestation -> settle after disputes.

Idempotent by reading the escrow first: a shipment the chain shows attested (or settled) is
recorded from the chain, never attested again, whatever the store says. Nothing is sent while
an oracle transaction is still unmined: the escrow does not show its effect yet, and a second
one would revert. Each transaction is stored before it is sent (chain/settlement/oracle_tx.py),
so a stored one that was dropped is sent again unchanged and a stuck one is replaced with higher
fees.
Payout withdrawal is the payee's own act (pull payment), not the worker's.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

import store
from chain import solidity_errors as se
from chain.clients import (
    EscrowClient,
    ShipmentEscrowClient,
    ShipmentEscrowV2Client,
    ShipmentState,
    ShipmentStateV2,
    ShipmentView,
    ShipmentViewV2,
)
from chain.errors import ChainError
from chain.polling import PollingWorker
from chain.releases import ESCROW_V2
from chain.settings import SettleSettings
from chain.settlement.attestation import (
    DeliveryError,
    delivery_facts,
    split_deposit,
    verified_terms,
)
from chain.settlement.attestation_v2 import shipment_facts, verified_terms_v2
from chain.settlement.oracle_tx import OracleSender
from chain.toolchain.deploy import Deployment
from chain.transactions import chain_errors
from core import shipment_report as v2_rules
from core.eip712 import DeliveryAttestation, Domain, anchor_domain, escrow_domain, sign
from core.hexstr import hex0x
from store.at_risk import AtRiskWarner, open_escrows, store_now
from store.models import Shipment, ShipmentStatus
from store.shipments import set_shipment_status

_LOGGER = logging.getLogger(__name__)

# v2 shipments the worker checks for delivery: funded on chain, not attested yet.
_OPEN_V2 = (
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
    ShipmentStatus.RECEIVED,
)


@dataclass
class SettleReport:
    """What one run_once did, by shipment id (0x-hex)."""

    attested: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # attested on chain before: recorded only
    settled: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # shipment -> why not attested
    waiting: list[str] = field(default_factory=list)  # dispute window or delivery time ahead
    resolved: list[str] = field(default_factory=list)  # settled by the arbiter's split
    rebroadcast: list[str] = field(default_factory=list)  # stored oracle tx sent again unchanged
    replaced: list[str] = field(default_factory=list)  # stuck oracle tx re-signed, fees bumped


class SettlementWorker(PollingWorker):
    """Attests received shipments with the oracle key and settles them; run() until stop()."""

    def __init__(
        self,
        settings: SettleSettings,
        sessions: sessionmaker[Session] | Engine,
        w3: Web3,
        oracle: LocalAccount,
        deployment: Deployment,
    ) -> None:
        super().__init__(settings.poll_interval)
        self.settings = settings
        self.sessions = store.session_factory(sessions)
        self.w3 = w3
        self.oracle = oracle
        self.deployment = deployment
        self.escrow = ShipmentEscrowClient(w3, deployment.shipment_escrow)
        v2 = deployment.shipment_escrow_v2
        self.escrow_v2 = None if v2 is None else ShipmentEscrowV2Client(w3, v2)
        self.escrow_v2_block = deployment.first_block
        if (release := deployment.release(ESCROW_V2)) is not None:
            self.escrow_v2_block = release.block
        self._domains: tuple[Domain, Domain] | None = None
        self._last_refusal: dict[str, str] = {}
        self._at_risk = AtRiskWarner(_LOGGER)
        self.sender = OracleSender(
            settings, self.sessions, w3, oracle, self.escrow, deployment.chain_id
        )

    activity = "settlement"

    def run(self) -> None:
        """Poll until stop()."""
        _LOGGER.info("settling as oracle %s on %s", self.oracle.address, self.escrow.address)
        super().run()

    def run_once(self) -> SettleReport:
        """Attest every delivered shipment that can be, then settle those past their window.

        v1 shipments wait for the consignee's receiving; v2 shipments are checked from funding
        on, since the devices' arrival (or a rejection) can make them attestable.
        """
        report = SettleReport()
        try:
            for shipment_id in self._shipment_ids(ShipmentStatus.RECEIVED):
                self._guarded(self._attest, shipment_id, report)
            for shipment_id in self._shipment_ids(ShipmentStatus.ATTESTED):
                self._guarded(self._settle, shipment_id, report)
            if self.escrow_v2 is not None:
                for shipment_id in self._shipment_ids(*_OPEN_V2, version=2):
                    self._guarded(self._attest_v2, shipment_id, report)
                for shipment_id in self._shipment_ids(ShipmentStatus.ATTESTED, version=2):
                    self._guarded(self._settle_v2, shipment_id, report)
        finally:  # also after a failed pass: an unreachable node is when warnings matter
            self._warn_at_risk()
        return report

    def _warn_at_risk(self) -> None:
        """Log each funded, unattested shipment once as it enters T-24 h, T-1 h and expired."""
        try:
            with store.read_transaction(self.sessions) as session:
                escrows = open_escrows(session)
                now = store_now(session)
            if escrows:
                with contextlib.suppress(ChainError):  # the escrow's clock, if the node answers
                    now = max(now, self._chain_time())
            self._at_risk.check(escrows, now)
        except SQLAlchemyError as exc:
            _LOGGER.warning("money-at-risk check skipped: %s", exc)

    def _guarded(self, step: Any, shipment_id: str, report: SettleReport) -> None:
        try:
            step(shipment_id, report)
        except DeliveryError as exc:
            report.refused[shipment_id] = str(exc)
            if self._last_refusal.get(shipment_id) != str(exc):  # log a refusal once, not per poll
                self._last_refusal[shipment_id] = str(exc)
                _LOGGER.error("shipment %s not attested: %s", shipment_id, exc)
        except ChainError as exc:
            _LOGGER.warning("shipment %s: %s; retrying next pass", shipment_id, exc)

    def _shipment_ids(self, *statuses: ShipmentStatus, version: int = 1) -> list[str]:
        with store.read_transaction(self.sessions) as session:
            stmt = select(Shipment.shipment_id).where(
                Shipment.status.in_(statuses), Shipment.escrow_version == version
            )
            return list(session.scalars(stmt.order_by(Shipment.id)))

    def _domains_of_chain(self) -> tuple[Domain, Domain]:
        """(TraceAnchor domain for readings, ShipmentEscrow domain for attestations)."""
        if self._domains is None:
            with chain_errors():
                chain_id = int(self.w3.eth.chain_id)
            self._domains = (
                anchor_domain(chain_id, self.deployment.trace_anchor),
                escrow_domain(chain_id, self.deployment.shipment_escrow),
            )
        return self._domains

    def _chain_time(self) -> int:
        with chain_errors():
            return int(self.w3.eth.get_block("latest")["timestamp"])

    def _oracle_tx_in_flight(self, shipment_id: str, report: SettleReport) -> bool:
        """Whether an oracle transaction is unmined; if so the shipment waits for it."""
        in_flight = self.sender.in_flight()
        if in_flight.rebroadcast is not None:
            report.rebroadcast.append(in_flight.rebroadcast)
        if in_flight.replaced is not None:
            report.replaced.append(in_flight.replaced)
        if in_flight.waiting:
            report.waiting.append(shipment_id)
        return in_flight.waiting

    # ---------------------------------------------------------------- attest

    def _attest(self, shipment_id: str, report: SettleReport) -> None:
        if self._oracle_tx_in_flight(shipment_id, report):
            return
        view = self.escrow.shipment(shipment_id)
        if view.state is not ShipmentState.FUNDED:
            self._follow_chain(shipment_id, view, report)
            return
        readings_domain, attestation_domain = self._domains_of_chain()
        with store.read_transaction(self.sessions) as session:
            shipment = _shipment(session, shipment_id)
            terms = verified_terms(shipment, view.terms_hash)
            facts = delivery_facts(session, shipment, terms, readings_domain)
        if facts.delivered_at > terms.deadline:
            raise DeliveryError(
                f"delivered at {facts.delivered_at}, after the deadline {terms.deadline}: "
                "no attestation; the buyer may refund after deadline + refund grace"
            )
        now = self._chain_time()
        if now > terms.deadline + terms.refund_grace:
            raise DeliveryError("the attestation window (deadline + refund grace) has closed")
        if facts.delivered_at > now:
            report.waiting.append(shipment_id)  # the chain's clock is behind the receiving time
            return
        attestation = DeliveryAttestation(
            shipment_id=terms.shipment_id,
            terms_hash=view.terms_hash,
            evidence_root=facts.evidence_root,
            excursion_minutes=facts.excursion_minutes,
            delivered_at=facts.delivered_at,
        )
        signature = sign(attestation, attestation_domain, bytes(self.oracle.key))
        signed = self.escrow.sign_attest(
            self.oracle, attestation, signature, self.sender.next_nonce()
        )
        result = self.sender.send("attest", shipment_id, signed)
        if result is None:  # unmined yet: later passes follow it, then adopt it from the chain
            report.waiting.append(shipment_id)
            return
        after = self.escrow.shipment(shipment_id)
        # The split applies to the deposit received (less than terms.amount for fee-on-transfer).
        expected = split_deposit(
            view.amount,
            facts.excursion_minutes,
            terms.penalty_bps_per_minute,
            terms.penalty_cap_bps,
        )
        _check_split(shipment_id, (after.payout, after.refund), expected)
        self._record_attestation(shipment_id, facts.excursion_minutes, after, hex0x(result.tx_hash))
        _LOGGER.info(
            "shipment %s attested: %d excursion minutes (%d readings), payout %d, refund %d",
            shipment_id,
            facts.excursion_minutes,
            facts.readings_used,
            after.payout,
            after.refund,
        )
        report.attested.append(shipment_id)

    def _follow_chain(
        self,
        shipment_id: str,
        view: ShipmentView | ShipmentViewV2,
        report: SettleReport,
        escrow: EscrowClient | None = None,
    ) -> None:
        """The chain moved past Funded without this pass: record what it says, send nothing.
        `escrow` is the shipment's release (v1 by default; the two name their states alike)."""
        escrow = escrow or self.escrow
        state = view.state.name
        if state == "NONE":
            raise DeliveryError("the escrow holds no deposit for this shipment")
        if state == "REFUNDED":
            with store.transaction(self.sessions) as session:
                set_shipment_status(session, _shipment(session, shipment_id), "refunded")
            report.refunded.append(shipment_id)
            return
        # v1's DeliveryAttested names the excursion minutes; v2's names the penalty instead.
        v1 = escrow is self.escrow
        minutes, tx_hash = self._attested_log(shipment_id) if v1 else (None, None)
        self._record_attestation(shipment_id, minutes, view, tx_hash)
        report.adopted.append(shipment_id)
        if state == "SETTLED":
            self._record_final(shipment_id, view, report, escrow)

    def _attested_log(self, shipment_id: str) -> tuple[int | None, str | None]:
        """(excursionMinutes, tx hash) of the shipment's DeliveryAttested event, if found."""
        with chain_errors():
            logs = self.escrow.contract.events.DeliveryAttested().get_logs(
                argument_filters={"shipmentId": bytes.fromhex(shipment_id[2:])},
                from_block=self.deployment.shipment_escrow_block,
                to_block="latest",
            )
        if not logs:
            return None, None
        last = logs[-1]
        return int(last["args"]["excursionMinutes"]), hex0x(last["transactionHash"])

    def _record_attestation(
        self,
        shipment_id: str,
        minutes: int | None,
        view: ShipmentView | ShipmentViewV2,
        tx_hash: str | None,
        evidence: tuple[bytes, ...] | None = None,
    ) -> None:
        with store.transaction(self.sessions) as session:
            shipment = _shipment(session, shipment_id)
            if evidence is not None:  # the digests behind the attested root, for disputes
                shipment.attested_evidence = b"".join(evidence)
            shipment.excursion_minutes = minutes
            shipment.payout_wei, shipment.refund_wei = view.payout, view.refund
            shipment.attest_tx_hash = tx_hash
            if shipment.status is not ShipmentStatus.ATTESTED:
                set_shipment_status(session, shipment, ShipmentStatus.ATTESTED)

    # ---------------------------------------------------------------- settle

    def _settle(self, shipment_id: str, report: SettleReport) -> None:
        if self._oracle_tx_in_flight(shipment_id, report):
            return
        view = self.escrow.shipment(shipment_id)
        if view.state is ShipmentState.SETTLED:  # by the arbiter, or by someone else's settle()
            self._record_final(shipment_id, view, report)
            return
        if view.state is ShipmentState.FUNDED:
            # A reorg dropped the attestation: attest again from the same evidence.
            _LOGGER.warning(
                "shipment %s: attestation no longer on chain; re-attesting", shipment_id
            )
            self._attest(shipment_id, report)
            return
        if self._settle_when_due(self.escrow, shipment_id, view, report):
            self._record_final(shipment_id, self.escrow.shipment(shipment_id), report)

    def _settle_when_due(
        self,
        escrow: EscrowClient,
        shipment_id: str,
        view: ShipmentView | ShipmentViewV2,
        report: SettleReport,
    ) -> bool:
        """Send settle() once the dispute window (or a dispute's timeout) has passed; True when
        it is mined, False while waiting."""
        settleable_at = view.settleable_at  # window end (Attested) or dispute timeout (Disputed)
        if settleable_at is None:
            _LOGGER.error("shipment %s: escrow state %s", shipment_id, view.state.name)
            return False
        if self._chain_time() < settleable_at:
            report.waiting.append(shipment_id)
            return False
        try:
            signed = escrow.sign_settle(self.oracle, shipment_id, self.sender.next_nonce())
            if self.sender.send("settle", shipment_id, signed) is None:
                report.waiting.append(shipment_id)  # unmined yet: later passes follow it
                return False
        except (se.EscrowDisputePending, se.EscrowV2DisputePending):
            # A dispute opened between our read and the settle: its timeout is the new wait.
            _LOGGER.info("shipment %s: disputed before settling; waiting", shipment_id)
            report.waiting.append(shipment_id)
            return False
        return True

    def _record_final(
        self,
        shipment_id: str,
        view: ShipmentView | ShipmentViewV2,
        report: SettleReport,
        escrow: EscrowClient | None = None,
    ) -> None:
        """Store the chain's final split: the arbiter may have replaced the attestation's."""
        resolution = self._resolved_log(shipment_id, escrow or self.escrow)
        with store.transaction(self.sessions) as session:
            shipment = _shipment(session, shipment_id)
            shipment.payout_wei, shipment.refund_wei = view.payout, view.refund
            if shipment.status is not ShipmentStatus.SETTLED:
                set_shipment_status(session, shipment, ShipmentStatus.SETTLED)
        if resolution is not None:
            _LOGGER.info(
                "shipment %s resolved by arbiter %s: payout %d, refund %d",
                shipment_id,
                resolution,
                view.payout,
                view.refund,
            )
            report.resolved.append(shipment_id)
        else:
            _LOGGER.info(
                "shipment %s settled: payout %d, refund %d", shipment_id, view.payout, view.refund
            )
        report.settled.append(shipment_id)

    def _resolved_log(self, shipment_id: str, escrow: EscrowClient) -> str | None:
        """The arbiter of the shipment's DisputeResolved event, if there is one."""
        v1_block = self.deployment.shipment_escrow_block
        from_block = self.escrow_v2_block if escrow is self.escrow_v2 else v1_block
        with chain_errors():
            logs = escrow.contract.events.DisputeResolved().get_logs(
                argument_filters={"shipmentId": bytes.fromhex(shipment_id[2:])},
                from_block=from_block,
                to_block="latest",
            )
        return str(logs[-1]["args"]["arbiter"]) if logs else None

    # ---------------------------------------------------------------- escrow v2

    def _attest_v2(self, shipment_id: str, report: SettleReport) -> None:
        """Attest a v2 shipment once core.shipment_report says the contract accepts it."""
        escrow = self.escrow_v2
        assert escrow is not None  # run_once calls this only with v2 deployed
        if self._oracle_tx_in_flight(shipment_id, report):
            return
        view = escrow.shipment(shipment_id)
        # A dispute opened before any attestation (from the deadline) does not stop it: the
        # escrow still takes the attestation, as the split the dispute falls back to.
        unattested_dispute = view.state is ShipmentStateV2.DISPUTED and not view.attested_at
        if view.state is not ShipmentStateV2.FUNDED and not unattested_dispute:
            self._follow_chain(shipment_id, view, report, escrow)
            return
        readings_domain, _ = self._domains_of_chain()
        now = self._chain_time()
        with store.read_transaction(self.sessions) as session:
            shipment = _shipment(session, shipment_id)
            terms = verified_terms_v2(shipment, view.terms_hash)
            if terms.oracle != self.oracle.address:  # another oracle's shipment: not ours
                raise DeliveryError(f"the terms name the oracle {terms.oracle}, not this one")
            facts = shipment_facts(
                session, shipment, terms, readings_domain, now=now, funded_at=view.funded_at
            )
        rules = facts.report
        if not rules.may_attest:
            report.waiting.append(shipment_id)  # not delivered, or auto-accept time ahead
            return
        if now > escrow.attestation_deadline(shipment_id):
            raise DeliveryError("the attestation deadline has passed: dispute or refund only")
        attestation = rules.attestation(terms)
        signature = sign(attestation, escrow.domain(), bytes(self.oracle.key))
        signed = escrow.sign_attest(
            self.oracle, terms, attestation, signature, self.sender.next_nonce()
        )
        result = self.sender.send("attest", shipment_id, signed)
        if result is None:
            report.waiting.append(shipment_id)
            return
        after = escrow.shipment(shipment_id)
        assert rules.delivered_at is not None  # may_attest implies a delivery
        bps = v2_rules.penalty_bps(
            terms, rules.excursion_minutes, rules.shock_count, rules.delivered_at
        )
        expected = v2_rules.split_deposit(view.amount, bps)
        _check_split(shipment_id, (after.payout, after.refund), expected)
        self._record_attestation(
            shipment_id, rules.excursion_minutes, after, hex0x(result.tx_hash), rules.evidence
        )
        _LOGGER.info(
            "shipment %s (v2) attested on %s at %d: %d excursion minutes, %d shocks, "
            "payout %d, refund %d",
            shipment_id,
            rules.delivery_basis.name if rules.delivery_basis else "?",
            rules.delivered_at,
            rules.excursion_minutes,
            rules.shock_count,
            after.payout,
            after.refund,
        )
        report.attested.append(shipment_id)

    def _settle_v2(self, shipment_id: str, report: SettleReport) -> None:
        escrow = self.escrow_v2
        assert escrow is not None
        if self._oracle_tx_in_flight(shipment_id, report):
            return
        view = escrow.shipment(shipment_id)
        if view.state is ShipmentStateV2.SETTLED:
            self._record_final(shipment_id, view, report, escrow)
            return
        unattested = (ShipmentStateV2.FUNDED, ShipmentStateV2.DISPUTED)
        if not view.attested_at and view.state in unattested:
            # A reorg dropped the attestation: attest again from the same evidence.
            _LOGGER.warning(
                "shipment %s: v2 attestation no longer on chain; re-attesting", shipment_id
            )
            self._attest_v2(shipment_id, report)
            return
        if self._settle_when_due(escrow, shipment_id, view, report):
            self._record_final(shipment_id, escrow.shipment(shipment_id), report, escrow)


def _check_split(shipment_id: str, split: tuple[int, int], expected: tuple[int, int]) -> None:
    """Log an error if the escrow's (payout, refund) is not what formats.md's rules give."""
    if split != expected:
        _LOGGER.error(
            "shipment %s: escrow split %s differs from formats.md %s", shipment_id, split, expected
        )


def _shipment(session: Session, shipment_id: str) -> Shipment:
    shipment = session.scalars(select(Shipment).where(Shipment.shipment_id == shipment_id)).one()
    return shipment
