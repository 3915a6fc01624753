"""The escrow's derived times, computed once: when a dispute window ends, when a dispute times
out, when a refund becomes possible (both escrow releases count them the same way).

A time of 0 or None means the step has not happened (the contracts store 0).
"""

from __future__ import annotations


def dispute_ends_at(attested_at: int | None, dispute_window: int) -> int | None:
    """When the dispute window closes (settle() of an undisputed attestation from then on)."""
    return attested_at + dispute_window if attested_at else None


def dispute_times_out_at(disputed_at: int | None, dispute_timeout: int) -> int | None:
    """When an unresolved dispute may be settled with the attestation's split."""
    return disputed_at + dispute_timeout if disputed_at else None


def refundable_at(deadline: int, refund_grace: int) -> int:
    """When refund() succeeds if no attestation came (v1; v2 adds the oracle's suspension)."""
    return deadline + refund_grace + 1
