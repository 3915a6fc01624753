"""Idempotent bulk ingestion of signed readings: duplicates skipped, conflicts reported."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, cast

from eth_utils.address import is_hex_address
from sqlalchemy import String, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from store._validate import bytes_of, checksum_address
from store.errors import StoreValueError
from store.models import Reading
from store.models.types import utcnow

# Column -> (min, max): the EIP-712 Reading field ranges, seq and time capped to BIGINT.
_INT_FIELDS: dict[str, tuple[int, int]] = {
    "seq": (0, 2**63 - 1),
    "taken_at_ms": (0, 2**63 - 1),
    "temperature_centi_c": (-(2**31), 2**31 - 1),
    "humidity_centi_pct": (0, 2**32 - 1),
    "shock_milli_g": (0, 2**32 - 1),
    "lat_e7": (-(2**31), 2**31 - 1),
    "lon_e7": (-(2**31), 2**31 - 1),
}
_LOOKUP_CHUNK = 500


@functools.lru_cache(maxsize=65_536)
def _checksummed(address: str) -> str:
    """checksum_address, cached: devices repeat their address and EIP-55 costs a keccak."""
    return checksum_address(address)


Key = tuple[str, int]


class ReadingConflict(NamedTuple):
    """A (device, seq) already stored with a different digest: a device that reused a seq."""

    device_address: str
    seq: int
    stored_digest: bytes
    new_digest: bytes


class InsertResult(NamedTuple):
    """What insert_readings did with a batch."""

    inserted: int
    duplicates: int
    conflicts: list[ReadingConflict]


def _prepare(row: Mapping[str, Any], position: int, addresses: dict[str, str]) -> dict[str, Any]:
    try:
        raw_address = row["device_address"]
        out: dict[str, Any] = {}
        for name, (low, high) in _INT_FIELDS.items():
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise StoreValueError(f"{name} must be an integer in [{low}, {high}]: {value!r}")
            out[name] = value
        signature = row["signature"]
        if not isinstance(signature, bytes) or not 1 <= len(signature) <= 65:
            raise StoreValueError("signature must be 1-65 bytes")
        out["signature"] = signature
        out["digest"] = bytes_of(row["digest"], 32, "digest")
    except KeyError as exc:
        raise StoreValueError(f"reading {position}: missing field {exc.args[0]!r}") from None
    except StoreValueError as exc:
        raise StoreValueError(f"reading {position}: {exc}") from None
    if raw_address not in addresses:
        what = f"reading {position} device"
        addresses[raw_address] = (
            _checksummed(raw_address)
            if isinstance(raw_address, str) and is_hex_address(raw_address)
            else checksum_address(raw_address, what)
        )
    out["device_address"] = addresses[raw_address]
    shipment_id = row.get("shipment_id")
    if shipment_id is not None and (
        isinstance(shipment_id, bool) or not isinstance(shipment_id, int)
    ):
        raise StoreValueError(f"reading {position}: shipment_id must be an integer id")
    out["shipment_id"] = shipment_id
    return out


def _stored_digests(session: Session, keys: Iterable[Key]) -> dict[Key, bytes]:
    by_device: dict[str, list[int]] = defaultdict(list)
    for device, seq in keys:
        by_device[device].append(seq)
    found: dict[Key, bytes] = {}
    for device, seqs in by_device.items():
        for start in range(0, len(seqs), _LOOKUP_CHUNK):
            chunk = seqs[start : start + _LOOKUP_CHUNK]
            stmt = select(Reading.seq, Reading.digest).where(
                Reading.device_address == device, Reading.seq.in_(chunk)
            )
            for seq, digest in session.execute(stmt):
                found[(device, seq)] = bytes(digest)
    return found


def insert_readings(session: Session, rows: Iterable[Mapping[str, Any]]) -> InsertResult:
    """Insert readings with ON CONFLICT DO NOTHING on (device_address, seq), in the caller's
    transaction. A row identical to a stored one (same digest) counts as a duplicate; the same
    (device, seq) with another digest is a conflict, reported, never stored, never fatal.

    Row keys: device_address, seq, taken_at_ms, temperature_centi_c, humidity_centi_pct,
    shock_milli_g, lat_e7, lon_e7, signature, digest, optionally shipment_id.
    """
    addresses: dict[str, str] = {}
    received_at = utcnow()
    prepared = [_prepare(row, i, addresses) for i, row in enumerate(rows)]
    if not prepared:
        return InsertResult(0, 0, [])
    table = cast(Table, Reading.__table__)
    connection = session.connection()
    dialect = connection.dialect
    conflict = ["device_address", "seq"]
    returned = (table.c.device_address, table.c.seq)
    if dialect.name == "postgresql":
        pg_stmt = pg_insert(table).on_conflict_do_nothing(index_elements=conflict)
        returning = pg_stmt.returning(*returned)
        for row in prepared:
            row["received_at"] = received_at
    else:
        # SQLite's DATETIME is text: convert the batch's one timestamp once, not once per row.
        to_sql = table.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
        stamp = to_sql(received_at) if to_sql is not None else received_at
        lite_stmt = sqlite_insert(table).values(
            received_at=bindparam("b_received_at", type_=String())
        )
        returning = lite_stmt.on_conflict_do_nothing(index_elements=conflict).returning(*returned)
        for row in prepared:
            row["b_received_at"] = stamp
    inserted = {(device, seq) for device, seq in connection.execute(returning, prepared)}

    keys = [(row["device_address"], row["seq"]) for row in prepared]
    counts = Counter(keys)
    stored = _stored_digests(session, {k for k in keys if k not in inserted or counts[k] > 1})
    credited: set[Key] = set()
    duplicates = 0
    conflicts: list[ReadingConflict] = []
    for key, row in zip(keys, prepared, strict=True):
        if key in inserted and counts[key] == 1:
            continue
        stored_digest = stored[key]
        if stored_digest != row["digest"]:
            conflicts.append(ReadingConflict(key[0], key[1], stored_digest, row["digest"]))
        elif key in inserted and key not in credited:
            credited.add(key)
        else:
            duplicates += 1
    return InsertResult(len(inserted), duplicates, conflicts)


def file_unfiled(session: Session, shipment_pk: int, devices: Iterable[str], since_ms: int) -> int:
    """File under `shipment_pk` the readings of `devices` taken from `since_ms` on that no
    shipment holds yet; how many. The gateway files a reading only under a shipment its carrier
    took on, so readings taken before the carrier recorded (a backdated) shipping wait unfiled
    until then."""
    addresses = sorted({checksum_address(d, "device") for d in devices})
    if not addresses:
        return 0
    result = session.execute(
        update(Reading)
        .where(
            Reading.device_address.in_(addresses),
            Reading.taken_at_ms >= since_ms,
            Reading.shipment_id.is_(None),
        )
        .values(shipment_id=shipment_pk)
    )
    return int(getattr(result, "rowcount", 0) or 0)
