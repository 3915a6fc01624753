"""Every contract release the platform deploys, each with its committed artifact.

A release is (name, version): what the deployments file records and the clients talk to. Its
artifact (ABI, creation and runtime code) is committed under chain/release_artifacts/ when the
release is cut and never rewritten, so an old deployment is checked against the code it was
deployed with, not against today's compile (DESIGN.md "Deployments"). A change to a released
contract is a new version beside the old one: `python -m chain.releases` writes the artifacts of
releases that have none and refuses to touch the others; tests/chain/test_releases.py fails when
a released contract's source no longer compiles to its artifact.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_utils.crypto import keccak

from chain.errors import ChainValueError
from chain.toolchain.artifacts import ContractArtifact
from core.hexstr import hex0x

ARTIFACTS_DIR = Path(__file__).with_name("release_artifacts")


@dataclass(frozen=True)
class ReleaseSpec:
    """One release: the name the deployments file uses, its version and its source contract."""

    name: str
    version: int
    contract: str  # the contract in contracts/ that was compiled for it

    @property
    def path(self) -> Path:
        """Its committed artifact."""
        return ARTIFACTS_DIR / f"{self.name}.v{self.version}.json"


TRACE_ANCHOR_V1 = ReleaseSpec("TraceAnchor", 1, "TraceAnchor")
ESCROW_V1 = ReleaseSpec("ShipmentEscrow", 1, "ShipmentEscrow")
ESCROW_V2 = ReleaseSpec("ShipmentEscrow", 2, "ShipmentEscrowV2")
TRACE_ANCHOR_V2 = ReleaseSpec("TraceAnchor", 2, "TraceAnchorV2")
RELEASES: tuple[ReleaseSpec, ...] = (TRACE_ANCHOR_V1, ESCROW_V1, ESCROW_V2, TRACE_ANCHOR_V2)


def spec_of(name: str, version: int) -> ReleaseSpec:
    """The release (name, version); ChainValueError if there is none."""
    for spec in RELEASES:
        if (spec.name, spec.version) == (name, version):
            return spec
    raise ChainValueError(f"no release {name} v{version}")


@cache
def release_artifact(spec: ReleaseSpec) -> ContractArtifact:
    """The committed artifact of a release (read once per process)."""
    try:
        data = json.loads(spec.path.read_text(encoding="utf-8"))
        return ContractArtifact.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ChainValueError(f"release artifact {spec.path} unreadable: {exc}") from None


def runtime_code_hash(artifact: ContractArtifact) -> str:
    """keccak256 of the runtime code with its immutables as compiled (zeros), as 0x-hex."""
    return hex0x(keccak(artifact.deployed_bytecode))


def strip_metadata(code: bytes) -> bytes:
    """Runtime code without solc's CBOR metadata tail (its last two bytes give its length).

    The metadata hashes the sources including comments, so a NatSpec edit changes it while the
    executed code stays the same; released code is compared without it.
    """
    if len(code) < 2:
        return code
    length = int.from_bytes(code[-2:], "big") + 2
    return code[:-length] if length <= len(code) else code


def freeze(compiled: dict[str, ContractArtifact]) -> list[Path]:
    """Write the artifact of every release that has none; never rewrites an existing one."""
    written = []
    for spec in RELEASES:
        if spec.path.exists():
            continue
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        data = compiled[spec.contract].to_json()
        spec.path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(spec.path)
    return written


def main() -> None:  # pragma: no cover - a maintainer's command
    """`python -m chain.releases`: commit the artifacts of new releases."""
    from chain.toolchain.compile import compile_contracts

    for path in freeze(compile_contracts()):
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":  # pragma: no cover
    main()
