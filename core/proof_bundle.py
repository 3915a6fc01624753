"""A proof bundle's format (docs/proof-bundle.md, version 1, profile `public-item`) and the checks
that need no chain: each projection's CBV 2.0 hash, its kind 2 leaf and its proof's root.

Bundles come from anyone (a download, an e-mail): `parse_bundle` bounds the size and depth before
parsing and checks the JSON Schema before reading a member; every failure is a BundleError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from core.epcis.projection import projection_hash
from core.errors import CoreValueError
from core.hexstr import hex0x
from core.json_bounds import check_json_bounds
from core.merkle import member_leaf_hash, process_proof

BUNDLE_FORMAT = "chaintrace.proof-bundle"
BUNDLE_VERSION = 1
PUBLIC_ITEM = "public-item"
BUNDLE_MEDIA_TYPE = "application/json"
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
_MAX_DEPTH = 32


class BundleError(CoreValueError):
    """The file is no proof bundle this version reads (malformed, too large, other format)."""


@cache
def _validator() -> Any:
    text = (resources.files("core") / "proof_bundle.schema.json").read_text(encoding="utf-8")
    return jsonschema_rs.validator_for(json.loads(text))


def parse_bundle(data: bytes) -> dict[str, Any]:
    """The bundle in `data`, checked against the version 1 schema; BundleError if it is not one."""
    try:
        check_json_bounds(data, max_bytes=MAX_BUNDLE_BYTES, max_depth=_MAX_DEPTH)
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"not a readable JSON document: {exc}") from None
    if not isinstance(value, dict):
        raise BundleError("not a proof bundle: the document is no JSON object")
    if value.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"not a proof bundle: format is not {BUNDLE_FORMAT!r}")
    if value.get("version") != BUNDLE_VERSION or value.get("profile") != PUBLIC_ITEM:
        raise BundleError(
            f"version {value.get('version')!r}, profile {value.get('profile')!r}: this verifier "
            f"reads version {BUNDLE_VERSION}, profile {PUBLIC_ITEM!r}"
        )
    errors = [
        f"{'/'.join(map(str, e.instance_path)) or '(top)'}: {e.message[:200]}"
        for e in _validator().iter_errors(value)
    ]
    if errors:
        raise BundleError("malformed proof bundle: " + "; ".join(errors[:5]))
    return value


@dataclass(frozen=True)
class OfflineCheck:
    """One entry's checks without the chain; `failure` names the first that failed (or None)."""

    projection_hash: str
    leaf: str
    root: str
    failure: str | None


def _b(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def check_entry(entry: Mapping[str, Any]) -> OfflineCheck:
    """Recompute the entry's projection hash, kind 2 leaf and root from what it shows."""
    try:
        digest = hex0x(projection_hash(entry["projection"]))
    except (ValueError, TypeError, KeyError) as exc:
        digest = ""
        failure: str | None = f"projection cannot be hashed: {exc}"
    else:
        failure = None
    leaf = member_leaf_hash(entry["eventKind"], _b(entry["projectionHash"]), _b(entry["salt"]))
    root = process_proof(leaf, [_b(p) for p in entry["proof"]])
    if failure is None and digest != entry["projectionHash"]:
        failure = "projection: its CBV 2.0 hash is not projectionHash"
    elif failure is None and hex0x(leaf) != entry["leaf"]:
        failure = "leaf: not the kind 2 leaf of (eventKind, projectionHash, salt)"
    elif failure is None and hex0x(root) != entry["root"]:
        failure = "proof: does not lead from the leaf to root"
    return OfflineCheck(digest, hex0x(leaf), hex0x(root), failure)
