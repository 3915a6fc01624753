"""Exceptions raised by the store package."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error the store raises."""


class StoreConfigError(StoreError, ValueError):
    """A database URL or engine option the store cannot use."""


class StoreValueError(StoreError, ValueError):
    """A value that does not fit the schema (wrong length, bad format, unknown key)."""


class NotFoundError(StoreError, LookupError):
    """A row the caller named does not exist."""


class DuplicateEventError(StoreError):
    """An event with the same (kind, event_hash) is already recorded."""

    def __init__(self, kind: int, event_hash: bytes, existing_event_id: int) -> None:
        super().__init__(
            f"event kind={kind} hash=0x{event_hash.hex()} "
            f"already recorded as id {existing_event_id}"
        )
        self.kind = kind
        self.event_hash = event_hash
        self.existing_event_id = existing_event_id

    @property
    def event_id(self) -> int:
        """The id of the event already stored."""
        return self.existing_event_id


class InvalidTransitionError(StoreError):
    """A status change the lifecycle does not allow (e.g. final -> sent)."""

    def __init__(self, what: str, current: str, requested: str) -> None:
        super().__init__(f"{what}: cannot move from {current!r} to {requested!r}")
        self.current = current
        self.requested = requested


class DraftExpiredError(StoreError):
    """A commissioning draft was not signed in time; the brand starts a new one (410)."""


class LeavesTakenError(StoreError):
    """Leaves read as pending were put in another batch before this one could take them."""

    def __init__(self, wanted: int, taken: int) -> None:
        super().__init__(f"{wanted - taken} of {wanted} leaves are no longer pending")
        self.wanted = wanted
        self.taken = taken
