"""Small named JSON state (deployment info, worker cursors) in the settings table."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from store.errors import StoreValueError
from store.models import Setting
from store.models.types import utcnow


def get_setting(session: Session, key: str, default: Any = None) -> Any:
    """The JSON value stored under `key`, or `default`."""
    row = session.get(Setting, key)
    return default if row is None else row.value


def set_setting(session: Session, key: str, value: Any) -> None:
    """Store `value` (anything JSON can encode) under `key`, replacing an earlier value."""
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise StoreValueError("setting key must be 1-200 characters")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreValueError(f"setting {key!r} is not JSON-encodable: {exc}") from None
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()


def delete_setting(session: Session, key: str) -> bool:
    """Remove `key`; False if it was not set."""
    row = session.get(Setting, key)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
