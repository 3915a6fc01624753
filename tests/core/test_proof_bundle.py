"""core/proof_bundle.py: hostile files refused with a clear BundleError before anything is read;
each entry's projection hash, kind 2 leaf and root recomputed, the first mismatch named."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from core.epcis.projection import projection_hash
from core.hexstr import hex0x
from core.merkle import MerkleTree, member_leaf_hash
from core.proof_bundle import MAX_BUNDLE_BYTES, BundleError, check_entry, parse_bundle

EPC = "urn:epc:id:sgtin:0614141.000001.S1"
PROJECTION = {
    "type": "ObjectEvent",
    "eventTime": "2026-12-06T10:00:00.000Z",
    "eventTimeZoneOffset": "+00:00",
    "action": "ADD",
    "bizStep": "commissioning",
    "epcList": [EPC],
}


def _bundle() -> dict[str, Any]:
    digest = projection_hash(PROJECTION)
    salts = [bytes([1]) * 32, bytes([2]) * 32]
    leaves = [member_leaf_hash(0, digest, s) for s in salts]
    tree = MerkleTree.build(leaves)
    entry = {
        "eventKind": 0,
        "bizStep": "commissioning",
        "eventTime": PROJECTION["eventTime"],
        "projection": PROJECTION,
        "projectionHash": hex0x(digest),
        "salt": hex0x(salts[0]),
        "leaf": hex0x(leaves[0]),
        "proof": [hex0x(p) for p in tree.proof(leaves[0])],
        "root": hex0x(tree.root),
        "finality": "final",
        "anchoring": {
            "contract": "0x" + "ab" * 20,
            "txHash": "0x" + "cd" * 32,
            "blockNumber": 7,
            "signedByBrand": None,
        },
    }
    return {
        "format": "chaintrace.proof-bundle",
        "version": 1,
        "profile": "public-item",
        "chain": {"chainId": 31337, "name": "Anvil (a local test chain)"},
        "contracts": [{"name": "TraceAnchor", "version": 2, "address": "0x" + "ab" * 20}],
        "finality": {"mode": "auto", "confirmations": 2},
        "item": {"gtin": "00614141000012", "serial": "S1", "epc": EPC, "link": "/01/x"},
        "brand": {"name": "Acme", "companyPrefix": "0614141"},
        "brandCheck": None,
        "entries": [entry],
        "notIncluded": 0,
    }


def test_a_consistent_entry_passes_every_offline_check() -> None:
    bundle = parse_bundle(json.dumps(_bundle()).encode())
    check = check_entry(bundle["entries"][0])
    assert check.failure is None and check.root == bundle["entries"][0]["root"]


def _tampered(change: str) -> dict[str, Any]:
    entry = copy.deepcopy(_bundle()["entries"][0])
    if change == "projection":
        entry["projection"]["action"] = "OBSERVE"
    elif change == "salt":
        entry["salt"] = "0x" + "03" * 32
    elif change == "proof":
        entry["proof"] = ["0x" + "04" * 32]
    elif change == "root":
        entry["root"] = "0x" + "05" * 32
    return entry


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("projection", "projection: its CBV 2.0 hash is not projectionHash"),
        ("salt", "leaf: not the kind 2 leaf"),
        ("proof", "proof: does not lead from the leaf to root"),
        ("root", "proof: does not lead from the leaf to root"),
    ],
)
def test_a_tampered_entry_names_the_first_check_that_fails(change: str, named: str) -> None:
    failure = check_entry(_tampered(change)).failure
    assert failure is not None and failure.startswith(named)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "not a readable JSON document"),
        (b"\xff\xfe\x00", "not a readable JSON document"),
        (b"[" * 100 + b"]" * 100, "not a readable JSON document: JSON nested deeper"),
        (b" " * (MAX_BUNDLE_BYTES + 1), "larger than"),
        (b"[1]", "no JSON object"),
        (b'{"format": "x"}', "format is not 'chaintrace.proof-bundle'"),
        (b'{"format": "chaintrace.proof-bundle", "version": 2}', "this verifier reads version 1"),
    ],
)
def test_hostile_files_are_refused_clearly(data: bytes, says: str) -> None:
    with pytest.raises(BundleError) as caught:
        parse_bundle(data)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("entries", 0, "salt"), "0x12"),
        (("entries", 0, "eventKind"), 2),
        (("entries", 0, "proof"), ["0x" + "00" * 32] * 65),
        (("chain", "chainId"), "31337"),
        (("item", "gtin"), "614141000012"),
        (("contracts",), []),
        (("entries", 0, "extra"), 1),
    ],
)
def test_schema_violations_are_refused_with_where(path: tuple[Any, ...], value: Any) -> None:
    bundle = _bundle()
    target: Any = bundle
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(BundleError) as caught:
        parse_bundle(json.dumps(bundle).encode())
    assert str(caught.value).startswith("malformed proof bundle: ")
