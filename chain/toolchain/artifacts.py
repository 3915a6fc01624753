"""Compiled contract artifacts: the parts of solc's output the platform uses; their disk cache."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from chain.errors import CompilationError
from core.hexstr import hex0x

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class ContractArtifact:
    """One compiled contract: ABI, creation and runtime bytecode, custom error selectors."""

    name: str
    source: str
    abi: list[dict[str, Any]] = field(repr=False)
    bytecode: bytes = field(repr=False)
    deployed_bytecode: bytes = field(repr=False)
    # offsets of immutables in the runtime code; the deployed code differs from
    # deployed_bytecode exactly there
    immutable_references: dict[str, list[dict[str, int]]] = field(repr=False)

    @property
    def error_selectors(self) -> dict[bytes, dict[str, Any]]:
        """4-byte selector -> ABI entry of every custom error this contract can revert with."""
        return {error_selector(e): e for e in self.abi if e.get("type") == "error"}

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (hex for bytes), the inverse of from_json."""
        return {
            "name": self.name,
            "source": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode.hex(),
            "deployedBytecode": self.deployed_bytecode.hex(),
            "immutableReferences": self.immutable_references,
            "errors": {hex0x(sel): abi_signature(e) for sel, e in self.error_selectors.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContractArtifact:
        """Rebuild from to_json's output."""
        return cls(
            name=str(data["name"]),
            source=str(data["source"]),
            abi=list(data["abi"]),
            bytecode=bytes.fromhex(data["bytecode"]),
            deployed_bytecode=bytes.fromhex(data["deployedBytecode"]),
            immutable_references=dict(data["immutableReferences"]),
        )


def abi_type_string(param: dict[str, Any]) -> str:
    """An ABI parameter's canonical type, tuples spelled out: `(uint256,address)[]`."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type_string(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def abi_signature(entry: dict[str, Any]) -> str:
    """`Name(type1,type2)` of an ABI error, event or function entry."""
    return f"{entry['name']}({','.join(abi_type_string(p) for p in entry.get('inputs', []))})"


def selector_of(signature: str) -> bytes:
    """The first four bytes of keccak256(signature)."""
    return keccak(text=signature)[:4]


def error_selector(entry: dict[str, Any]) -> bytes:
    """The 4-byte selector of an ABI error (or function) entry."""
    return selector_of(abi_signature(entry))


def artifacts_from_output(output: dict[str, Any], src: str) -> dict[str, ContractArtifact]:
    """Pick the contracts declared under src out of solc's standard-JSON output."""
    result: dict[str, ContractArtifact] = {}
    for unit, contracts in output.get("contracts", {}).items():
        if not unit.startswith(src.rstrip("/") + "/"):
            continue
        for name, data in contracts.items():
            if name in result:
                raise CompilationError(f"contract name {name} is declared twice ({unit})")
            evm = data.get("evm", {})
            deployed = evm.get("deployedBytecode", {})
            result[name] = ContractArtifact(
                name=name,
                source=unit,
                abi=data.get("abi", []),
                bytecode=bytes.fromhex(evm.get("bytecode", {}).get("object", "")),
                deployed_bytecode=bytes.fromhex(deployed.get("object", "")),
                immutable_references=deployed.get("immutableReferences", {}),
            )
    return result


def read_cache(path: Path) -> dict[str, ContractArtifact] | None:
    """Artifacts from a cache file, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != _CACHE_FORMAT:
            return None
        return {n: ContractArtifact.from_json(c) for n, c in data["contracts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_cache(path: Path, artifacts: dict[str, ContractArtifact]) -> None:
    """Write atomically so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": _CACHE_FORMAT, "contracts": {n: a.to_json() for n, a in artifacts.items()}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
