"""A consumer's checks of the resolver's public projections, each the way an outsider would do it:
in Python (core.merkle), on chain (TraceAnchorV2.verifyMember), with OpenZeppelin's JS library
(tests/api/oz_member_verify.mjs) and with GS1's reference tool, unpatched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from chain.clients.trace_anchor_v2 import TraceAnchorV2Client
from core.hexstr import hex0x
from core.merkle import member_leaf_hash, process_proof
from tests.core.epcis.reference_oracle import reference_event_hash

REPO = Path(__file__).resolve().parents[2]
OZ_SCRIPT = Path(__file__).with_name("oz_member_verify.mjs")


def _b(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def python_root(entry: dict[str, Any]) -> str:
    """The root the entry's proof leads to from the kind 2 leaf of (eventKind, projectionHash,
    salt), after checking that leaf is the one shown."""
    leaf = member_leaf_hash(entry["eventKind"], _b(entry["projectionHash"]), _b(entry["salt"]))
    assert hex0x(leaf) == entry["leaf"], "the leaf shown is not the kind 2 leaf of its fields"
    return hex0x(process_proof(leaf, [_b(p) for p in entry["proof"]]))


def reference_hash(entry: dict[str, Any]) -> str:
    """GS1's reference tool's CBV 2.0 hash of the projection, as shown."""
    digest = reference_event_hash(entry["projection"])
    assert digest is not None, "the reference tool gave no hash"
    return hex0x(digest)


def on_chain(w3: Web3, entry: dict[str, Any]) -> bool:
    """TraceAnchorV2.verifyMember at the contract the entry names."""
    anchor = TraceAnchorV2Client(w3, entry["anchoring"]["contract"])
    args = (_b(entry["projectionHash"]), _b(entry["salt"]), [_b(p) for p in entry["proof"]])
    return anchor.verify_member(entry["eventKind"], *args)


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        reason = "node or node_modules/@openzeppelin/merkle-tree is missing (make deps)"
        if os.environ.get("CHAINTRACE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def openzeppelin(view_json: str) -> dict[str, Any]:
    """What OpenZeppelin's StandardMerkleTree says of every proven entry of the item's JSON."""
    done = subprocess.run(
        [_node(), str(OZ_SCRIPT), view_json],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-5_000:]
    return dict(json.loads(done.stdout))
