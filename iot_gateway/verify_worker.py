"""The verifier processes' side: decode and recover signers (imports no database code)."""

from __future__ import annotations

from collections.abc import Sequence
from multiprocessing.connection import Connection

from core.eip712 import Domain
from core.errors import CoreValueError
from core.recursion import bound_recursion_limit
from core.signature import recover_digest_raw
from iot_gateway.payload import (
    PayloadLimits,
    PayloadRejected,
    RejectReason,
    UnverifiedReading,
    decode_reading,
)

# (topic, payload, recover the signer?) in; a Verdict out, one per message, in order.
Job = tuple[str, bytes, bool]
# (candidate, signer address bytes, recovery error) or (reason, detail, device, seq).
Recovered = tuple[UnverifiedReading, bytes | None, str | None]
Refused = tuple[str, str, str | None, int | None]
Verdict = Recovered | Refused


def verify_jobs(
    jobs: Sequence[Job], domain: Domain, limits: PayloadLimits, now_ms: int
) -> list[Verdict]:
    """Decode each payload and, where asked, recover its signer; never raises per message."""
    out: list[Verdict] = []
    for topic, payload, recover in jobs:
        try:
            candidate = decode_reading(payload, topic, domain, limits=limits, now_ms=now_ms)
        except PayloadRejected as exc:
            out.append((exc.reason.value, exc.detail, exc.device, exc.seq))
            continue
        except Exception as exc:  # a bug must not cost the batch: dead-lettered as such
            out.append((RejectReason.INTERNAL_ERROR.value, repr(exc)[:200], None, None))
            continue
        if not recover:
            out.append((candidate, None, None))
            continue
        try:
            out.append((candidate, recover_digest_raw(candidate.digest, candidate.signature), None))
        except CoreValueError as exc:
            out.append((candidate, None, str(exc)[:200]))
    return out


def serve(conn: Connection, domain: Domain, limits: PayloadLimits) -> None:
    """Worker process: verify each (now_ms, jobs) received; exit when the gateway is gone."""
    bound_recursion_limit()  # a spawned process imported eth-account (py_ecc) afresh
    while True:
        try:
            now_ms, jobs = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            conn.send(verify_jobs(jobs, domain, limits, now_ms))
        except (BrokenPipeError, OSError):
            return
