"""An EPCIS event hashed once: the one value the store records and a leaf commits to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.epcis.errors import EpcisError
from core.epcis.events import dump, parse_time, short_biz_step, to_ms
from core.epcis.hashing import event_hash, event_id, is_error_declaration


@dataclass(frozen=True)
class HashedEvent:
    """What is stored of an event: its leaf kind (0 event, 1 errorDeclaration), its canonical
    hash, the JSON text that was hashed, and the type, bizStep and time the store indexes."""

    kind: int
    event_hash: bytes
    event_json: str
    event_type: str
    biz_step: str | None
    event_time_ms: int

    @property
    def event_id(self) -> str:
        """The hash as the CBV 2.0 event ID (ni:///sha-256;<hex>?ver=CBV2.0)."""
        return event_id(self.event_hash)

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> HashedEvent:
        """Hash `event` once, as stored: the compact JSON text is what is hashed (so the stored
        text always re-hashes to the stored hash). EpcisError for an event that does not hash."""
        try:
            text = dump(event)
        except (TypeError, ValueError) as exc:  # NaN, Infinity: not JSON, so never hashed
            raise EpcisError(f"the event is not JSON: {exc}") from None
        stored = json.loads(text)
        return cls(
            kind=1 if is_error_declaration(stored) else 0,
            event_hash=event_hash(stored),
            event_json=text,
            event_type=str(stored["type"]),
            biz_step=short_biz_step(stored.get("bizStep")),
            event_time_ms=to_ms(parse_time(str(stored.get("eventTime")))),
        )
