"""Money at risk: funded escrows not attested yet, by the time the oracle has left to attest.

ShipmentEscrow v1 takes an attestation while `block.timestamp <= deadline + refundGrace`
(`attest_by` here) and lets anyone `refund()` the whole deposit to the buyer from the next
second on; it also refuses an attestation whose `deliveredAt` is after `deadline`. So a funded
shipment that is not attested by `attest_by` is the payee's whole deposit lost. ShipmentEscrow
v2 has the same `attest_by` (the contract adds the time the shipment's oracle was paused, which
the store does not know: the limit shown here is never later than the chain's) and attests late
deliveries with a late-hour penalty up to it.

Computed here, once, from the store only (the shipments' stored terms and the chain follower's
escrow view), so the API's /metrics, `chaintrace settle --status` and the settlement worker's
warnings agree, and the first two work while the settlement worker is stopped. A shipment counts
while the follower shows its escrow funded under the shipment's own terms hash and the store
does not show it attested, settled or refunded.

"Now" is the later of the wall clock and the last followed block's time (`store_now`): the
escrow judges by the next block's timestamp, which on a live chain follows the wall clock; a
dev chain whose clock was moved ahead is followed by its blocks' times.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import chain_view
from store.models import EscrowView, Event, Shipment, ShipmentStatus

_LOGGER = logging.getLogger(__name__)

HOUR = 3_600
DAY = 24 * HOUR

# Windows by time left to attest, disjoint: expired (< 0 s), 1h (0..1 h), 24h (1 h..24 h), later.
EXPIRED, WITHIN_1H, WITHIN_24H, LATER = "expired", "1h", "24h", "later"
WINDOWS = (EXPIRED, WITHIN_1H, WITHIN_24H, LATER)
_SEVERITY = {LATER: 0, WITHIN_24H: 1, WITHIN_1H: 2, EXPIRED: 3}

# Store statuses of a shipment that may still be attested (the follower shows it funded).
_OPEN = (
    ShipmentStatus.FUNDED,
    ShipmentStatus.SHIPPING,
    ShipmentStatus.ARRIVED,
    ShipmentStatus.RECEIVED,
)
_ZERO_ADDRESS = "0x" + "00" * 20


def window_of(seconds_left: int) -> str:
    """The window a shipment with `seconds_left` to attest is in (negative: too late)."""
    if seconds_left < 0:
        return EXPIRED
    if seconds_left <= HOUR:
        return WITHIN_1H
    if seconds_left <= DAY:
        return WITHIN_24H
    return LATER


@dataclass(frozen=True)
class OpenEscrow:
    """A funded, unattested shipment and the limits its stored terms set."""

    shipment_id: str
    status: ShipmentStatus
    amount: int | None  # the deposit the escrow received (wei or token units)
    token: str  # the zero address for ETH
    deadline: int  # unix seconds: the latest deliveredAt v1 attests
    attest_by: int  # unix seconds: deadline + refundGrace, the last second to attest
    received_at: int | None  # unix seconds of the consignee's receiving, if recorded
    escrow_version: int = 1

    def seconds_left(self, now: int) -> int:
        """Seconds until the attestation limit (0: this second is the last; negative: past)."""
        return self.attest_by - now

    def window(self, now: int) -> str:
        return window_of(self.seconds_left(now))

    def reason(self, now: int) -> str:
        """Why the shipment is not attested yet, as far as the store knows."""
        if self.escrow_version == 2:
            return self._reason_v2(now)
        if now > self.attest_by:
            return "attestation window closed: the buyer can refund() the whole deposit"
        if self.received_at is None:
            if now > self.deadline:
                return "no receiving by the deadline: v1 cannot attest a later delivery"
            if self.status is ShipmentStatus.FUNDED:
                return "not shipped yet; no receiving recorded"
            return "no receiving recorded"
        if self.received_at > self.deadline:
            return "received after the deadline: v1 cannot attest it"
        return "received; waiting for the settlement worker (see its log if it runs)"

    def _reason_v2(self, now: int) -> str:
        """ShipmentEscrow v2 attests late deliveries too (late-hour penalty) until attest_by,
        later by the time its oracle was paused; then disputes, a mutual release or refund()."""
        if now > self.attest_by:
            return (
                "attestation deadline passed (unless the oracle was paused): a dispute, a mutual"
                " release or the buyer's refund() remain"
            )
        if self.received_at is None:
            return "not delivered yet: no receiving, or the devices' arrival not yet accepted"
        return "received; waiting for the settlement worker (see its log if it runs)"


def store_now(session: Session) -> int:
    """Unix seconds: the later of the wall clock and the last followed block's timestamp."""
    tip = chain_view.followed_tip(session)
    followed = int(tip.timestamp) if tip is not None else 0
    return max(int(time.time()), followed)


def _limits(terms_json: str) -> tuple[int, int, str] | None:
    """(deadline, refundGrace, token) of stored terms; None if they cannot be read."""
    try:
        data = json.loads(terms_json)
        deadline, grace = data["deadline"], data["refundGrace"]
        token = str(data.get("token") or _ZERO_ADDRESS)
    except (ValueError, TypeError, KeyError):
        return None
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in (deadline, grace)):
        return None
    return deadline, grace, token


def open_escrows(session: Session) -> list[OpenEscrow]:
    """Funded shipments not attested yet, the soonest attestation limit first."""
    rows = session.execute(
        select(
            Shipment.id,
            Shipment.shipment_id,
            Shipment.status,
            Shipment.terms_json,
            Shipment.escrow_version,
            EscrowView.amount,
        )
        .join(EscrowView, EscrowView.shipment_id == Shipment.shipment_id)
        .where(
            Shipment.status.in_(_OPEN),
            EscrowView.state == "funded",
            EscrowView.terms_hash == Shipment.terms_hash,
        )
        .order_by(Shipment.id)
    ).all()
    received = _receiving_times(session, [row.id for row in rows])
    out: list[OpenEscrow] = []
    for row in rows:
        limits = _limits(row.terms_json)
        if limits is None:  # the API validated them; a hand-edited row is said, not hidden
            _LOGGER.error("shipment %s: stored terms unreadable; limit unknown", row.shipment_id)
            continue
        deadline, grace, token = limits
        ms = received.get(row.id)
        out.append(
            OpenEscrow(
                shipment_id=row.shipment_id,
                status=ShipmentStatus(row.status),
                amount=None if row.amount is None else int(row.amount),
                token=token,
                deadline=deadline,
                attest_by=deadline + grace,
                received_at=None if ms is None else ms // 1000,
                escrow_version=int(row.escrow_version),
            )
        )
    out.sort(key=lambda e: (e.attest_by, e.shipment_id))
    return out


def _receiving_times(session: Session, ids: Sequence[int]) -> dict[int, int]:
    """Earliest receiving event time (ms) per shipment row id, as the oracle takes it."""
    found: dict[int, int] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = list(ids[start : start + 500])
        rows = session.execute(
            select(Event.shipment_id, func.min(Event.event_time_ms))
            .where(Event.shipment_id.in_(chunk), Event.biz_step == "receiving", Event.kind == 0)
            .group_by(Event.shipment_id)
        )
        found.update({int(sid): int(ms) for sid, ms in rows if sid is not None})
    return found


@dataclass(frozen=True)
class AtRiskSummary:
    """What /metrics shows: shipments per window, and the least time left of those not expired."""

    counts: dict[str, int]
    seconds_left_min: int | None  # None: no open shipment can still be attested


def summarize(escrows: Iterable[OpenEscrow], now: int) -> AtRiskSummary:
    counts = dict.fromkeys(WINDOWS, 0)
    least: int | None = None
    for escrow in escrows:
        left = escrow.seconds_left(now)
        counts[window_of(left)] += 1
        if left >= 0 and (least is None or left < least):
            least = left
    return AtRiskSummary(counts, least)


def format_left(seconds: int) -> str:
    """'2d 03h', '5h 07m', '12m 30s'; past limits as 'expired 5h 07m ago'."""
    if seconds < 0:
        return f"expired {format_left(-seconds)} ago"
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def format_time(unix: int) -> str:
    """A unix time as 'YYYY-MM-DD HH:MM:SS UTC'."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class AtRiskWarner:
    """Logs a shipment once per window it enters (24h, 1h, expired), most severe first seen.

    The memory is the process's: a restarted worker warns once more for each shipment already
    inside a window, which tells whoever restarted it what is at risk. A shipment seen first
    inside the 1 h window is warned once for 1 h (not for 24 h as well); one that leaves every
    window (attested, refunded) is forgotten.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or _LOGGER
        self._warned: dict[str, str] = {}

    def check(self, escrows: Iterable[OpenEscrow], now: int) -> list[tuple[str, str]]:
        """Log what entered a more severe window since last time; the (shipment, window) pairs."""
        logged: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        for escrow in escrows:
            window = escrow.window(now)
            if window == LATER:
                continue
            before = self._warned.get(escrow.shipment_id, LATER)
            seen[escrow.shipment_id] = max(window, before, key=_SEVERITY.__getitem__)
            if _SEVERITY[window] <= _SEVERITY[before]:
                continue
            logged.append((escrow.shipment_id, window))
            left = escrow.seconds_left(now)
            if window == EXPIRED:
                self._logger.error(
                    "shipment %s: not attested by %s (deadline + refund grace, %s): %s",
                    escrow.shipment_id,
                    format_time(escrow.attest_by),
                    format_left(left),
                    escrow.reason(now),
                )
            else:
                self._logger.warning(
                    "shipment %s: %s left to attest (by %s, deadline + refund grace; T-%s): "
                    "%s; after that the buyer can refund() the whole deposit",
                    escrow.shipment_id,
                    format_left(left),
                    format_time(escrow.attest_by),
                    window,
                    escrow.reason(now),
                )
        self._warned = seen
        return logged
