"""The anchoring worker's sender lease: one active sender per key, fenced writes."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

import store
from store.leases import LeaseGrant, LeaseLost, acquire_lease, check_fence, release_lease

_LOGGER = logging.getLogger(__name__)

__all__ = ["LeaseLost", "SenderLease"]


def lease_name(chain_id: int, address: str) -> str:
    """One lease per (chain, sending key): nonces are per account and chain."""
    return f"anchor-sender:{chain_id}:{address.lower()}"


class SenderLease:
    """Holds the lease `name` for this process; `write()` opens a fenced transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], name: str, ttl: float, holder: str | None = None
    ) -> None:
        self.sessions = sessions
        self.name = name
        self.ttl = ttl
        # One holder per process by default: a restarted process (new pid) waits for the
        # dead one's lease to expire; worker objects inside one process share the lease.
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.grant: LeaseGrant | None = None

    @property
    def held(self) -> bool:
        """Whether the last acquire() succeeded (the lease may have expired since)."""
        return self.grant is not None

    def acquire(self) -> bool:
        """Take or renew the lease; False (standby) while another live holder has it."""
        with store.transaction(self.sessions) as session:
            grant = acquire_lease(session, self.name, self.holder, self.ttl)
        if grant != self.grant:
            if grant is None:
                _LOGGER.warning("lease %s lost: standing by", self.name)
            else:
                _LOGGER.info("lease %s held (fencing token %d)", self.name, grant.token)
        self.grant = grant
        return grant is not None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits only if this holder still holds the lease at commit."""
        if self.grant is None and not self.acquire():
            raise LeaseLost(f"lease {self.name} is held by another worker than {self.holder}")
        assert self.grant is not None
        try:
            with store.transaction(self.sessions) as session:
                check_fence(session, self.grant)
                yield session
        except LeaseLost:
            self.grant = None
            raise

    def release(self) -> None:
        """Give the lease up (on a clean stop) so a standby takes over at once."""
        if self.grant is None:
            return
        with store.transaction(self.sessions) as session:
            release_lease(session, self.grant)
        self.grant = None
