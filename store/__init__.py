"""Persistence: SQLAlchemy models, sessions, queries, the anchoring outbox, Alembic migrations."""

from store.batches import (
    batches_by_status,
    get_batch,
    mark_anchored,
    mark_failed,
    mark_final,
    mark_sent,
    reset_to_sent,
)
from store.db import (
    downgrade,
    make_engine,
    normalize_url,
    session_factory,
    sqlite_url,
    transaction,
    upgrade,
)
from store.errors import (
    DuplicateEventError,
    InvalidTransitionError,
    LeavesTakenError,
    NotFoundError,
    StoreConfigError,
    StoreError,
    StoreValueError,
)
from store.kv import delete_setting, get_setting, set_setting
from store.outbox import (
    claim_pending,
    claim_pending_leaves,
    create_batch,
    create_batch_from_tree,
    pending_leaf_count,
)
from store.principals import (
    create_api_key,
    create_principal,
    hash_api_key,
    principal_for_key,
    revoke_api_key,
)
from store.queries import (
    EventRecord,
    batch_leaves,
    event_record,
    find_item,
    item_history,
    readings_for_shipment,
    shipment_events,
)
from store.readings import InsertResult, ReadingConflict, insert_readings
from store.recording import EventRow, record_event, record_events
from store.shipments import can_transition, set_shipment_status, shipment_by_hex

__all__ = [
    "DuplicateEventError",
    "EventRecord",
    "EventRow",
    "InsertResult",
    "InvalidTransitionError",
    "LeavesTakenError",
    "NotFoundError",
    "ReadingConflict",
    "StoreConfigError",
    "StoreError",
    "StoreValueError",
    "batch_leaves",
    "batches_by_status",
    "can_transition",
    "claim_pending",
    "claim_pending_leaves",
    "create_api_key",
    "create_batch",
    "create_batch_from_tree",
    "create_principal",
    "delete_setting",
    "downgrade",
    "event_record",
    "find_item",
    "get_batch",
    "get_setting",
    "hash_api_key",
    "insert_readings",
    "item_history",
    "make_engine",
    "mark_anchored",
    "mark_failed",
    "mark_final",
    "mark_sent",
    "normalize_url",
    "pending_leaf_count",
    "principal_for_key",
    "readings_for_shipment",
    "record_event",
    "record_events",
    "reset_to_sent",
    "revoke_api_key",
    "session_factory",
    "set_setting",
    "set_shipment_status",
    "shipment_by_hex",
    "shipment_events",
    "sqlite_url",
    "transaction",
    "upgrade",
]
