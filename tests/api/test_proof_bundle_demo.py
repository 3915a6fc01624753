"""The demo item's proof bundle (docs/proof-bundle.md): downloaded as the page offers it, checked
by `chaintrace verify-bundle` against the demo's anvil (green), and refused with the failure
named once a projection, salt, proof, root or the chain id is tampered with."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from chaintrace.bundle_check import verify_bundle
from chaintrace.cli import app
from core.proof_bundle import parse_bundle
from tests.api.demo_item_support import DemoItem, demo_item

__all__ = ["demo_item"]

Bundle = dict[str, Any]


@pytest.fixture(scope="module")
def bundle_text(demo_item: DemoItem) -> str:
    response = httpx.get(f"{demo_item.api_url}{demo_item.link}?format=bundle", timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and ".proof-bundle.json" in disposition
    assert response.headers["access-control-allow-origin"] == "*"  # the resolver's CORS class
    return response.text


def _cli(tmp_path: Path, demo_item: DemoItem, bundle: Bundle | bytes) -> tuple[int, str]:
    path = tmp_path / "item.proof-bundle.json"
    path.write_bytes(bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode())
    args = ["verify-bundle", str(path), "--rpc", demo_item.services.rpc_url]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_the_bundle_is_the_pages_proofs(demo_item: DemoItem, bundle_text: str) -> None:
    bundle = parse_bundle(bundle_text.encode())
    view = demo_item.view()
    verify: dict[str, Any] = view["verify"]  # type: ignore[assignment]
    assert verify["bundleUrl"].endswith(f"{demo_item.link}?format=bundle")
    assert (bundle["format"], bundle["version"], bundle["profile"]) == (
        "chaintrace.proof-bundle",
        1,
        "public-item",
    )
    assert bundle["chain"] == {"chainId": 31337, "name": "Anvil (a local test chain)"}
    history: list[dict[str, Any]] = view["history"]  # type: ignore[assignment]
    assert [e["leaf"] for e in bundle["entries"]] == [e["leaf"] for e in history]
    assert bundle["brandCheck"]["root"] == view["authentic"]["root"]  # type: ignore[index]


def test_verify_bundle_is_green_for_the_demo_item(
    demo_item: DemoItem, bundle_text: str, tmp_path: Path
) -> None:
    code, output = _cli(tmp_path, demo_item, bundle_text.encode())
    assert code == 0, output
    assert "OK: every entry verified and final" in output
    assert "confirmed" in output and "FAILED" not in output


def _first(bundle: Bundle) -> dict[str, Any]:
    entry: dict[str, Any] = bundle["entries"][0]
    return entry


def _flip(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def _projection(b: Bundle) -> None:
    _first(b)["projection"]["eventTime"] = "2020-01-01T00:00:00.000Z"


def _salt(b: Bundle) -> None:
    _first(b)["salt"] = _flip(_first(b)["salt"])


def _proof(b: Bundle) -> None:
    entry = next(e for e in b["entries"] if e["proof"])
    entry["proof"][0] = _flip(entry["proof"][0])


def _root(b: Bundle) -> None:
    # A root that the proof leads to only if the leaf and proof change with it: the whole
    # entry made consistent offline, for a root the chain never saw.
    _first(b)["root"] = _flip(_first(b)["root"])


def _chain_id(b: Bundle) -> None:
    b["chain"]["chainId"] = 1


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_projection, "projection: its CBV 2.0 hash is not projectionHash"),
        (_salt, "leaf: not the kind 2 leaf of (eventKind, projectionHash, salt)"),
        (_proof, "proof: does not lead from the leaf to root"),
        (_root, "proof: does not lead from the leaf to root"),
        (_chain_id, "chain id: the RPC serves chain 31337, the bundle names 1"),
    ],
    ids=["projection", "salt", "proof", "root", "chain-id"],
)
def test_a_tampered_bundle_fails_naming_what(
    demo_item: DemoItem,
    bundle_text: str,
    tmp_path: Path,
    tamper: Callable[[Bundle], None],
    named: str,
) -> None:
    bundle = copy.deepcopy(json.loads(bundle_text))
    tamper(bundle)
    code, output = _cli(tmp_path, demo_item, bundle)
    assert code == 1, output
    assert named in output, output


def test_a_root_the_chain_never_anchored_fails_on_chain(
    demo_item: DemoItem, bundle_text: str
) -> None:
    """Offline consistent (projection, leaf, proof, root all recomputed for a new salt), but
    the root is none the contract knows: verifyMember says no."""
    from core.hexstr import hex0x
    from core.merkle import member_leaf_hash

    bundle = json.loads(bundle_text)
    entry = _first(bundle)
    salt = bytes.fromhex("11" * 32)
    entry["salt"] = hex0x(salt)
    leaf = member_leaf_hash(entry["eventKind"], bytes.fromhex(entry["projectionHash"][2:]), salt)
    entry["leaf"], entry["proof"], entry["root"] = hex0x(leaf), [], hex0x(leaf)
    report = verify_bundle(demo_item.services.w3(), parse_bundle(json.dumps(bundle).encode()))
    assert report.entries[0].failure == "verifyMember: the contract does not accept the proof"
    assert not report.ok


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[" * 5000 + b"]" * 5000, b'{"format": "other"}', b"[]"],
    ids=["empty", "text", "deep", "other-format", "array"],
)
def test_a_malformed_file_is_a_clear_error(
    demo_item: DemoItem, tmp_path: Path, content: bytes
) -> None:
    code, output = _cli(tmp_path, demo_item, content)
    assert code == 2, output
    assert "Traceback" not in output


def test_a_schema_violation_is_named(demo_item: DemoItem, bundle_text: str, tmp_path: Path) -> None:
    bundle = json.loads(bundle_text)
    _first(bundle)["proof"] = ["0xnothex"]
    code, output = _cli(tmp_path, demo_item, bundle)
    assert code == 2 and "malformed proof bundle: entries/0/proof/0" in output, output
