"""Deploy every contract release, record them per (chain id, genesis), verify each on load."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.errors import ChainValueError, ContractRevert, DeploymentNotFound
from chain.releases import (
    ESCROW_V1,
    ESCROW_V2,
    TRACE_ANCHOR_V1,
    TRACE_ANCHOR_V2,
    ReleaseSpec,
    release_artifact,
    runtime_code_hash,
    spec_of,
)
from chain.toolchain.artifacts import ContractArtifact, abi_type_string
from chain.transactions import chain_errors, ranged_logs, sender_for
from core.hexstr import hex0x

_LOGGER = logging.getLogger(__name__)

DEFAULT_DEPLOYMENTS_FILE = Path(".chaintrace/deployments.json")
# ShipmentEscrow v2's DEFAULT_ADMIN_ROLE transfer delay (AccessControlDefaultAdminRules): 2 days.
DEFAULT_ADMIN_DELAY = 2 * 24 * 3600


@dataclass(frozen=True)
class Release:
    """One contract release deployed on one chain."""

    name: str  # "TraceAnchor", "ShipmentEscrow"
    version: int
    address: str
    block: int
    tx: str
    code_hash: str  # runtime_code_hash of its committed artifact (chain/release_artifacts/)

    @property
    def spec(self) -> ReleaseSpec:
        """The release's spec (its committed artifact); ChainValueError if unknown."""
        return spec_of(self.name, self.version)

    @classmethod
    def from_json(cls, data: Any) -> Release:
        """Parse one `releases` entry (KeyError/TypeError/ValueError when malformed)."""
        return cls(
            name=str(data["name"]),
            version=int(data["version"]),
            address=Web3.to_checksum_address(data["address"]),
            block=int(data["block"]),
            tx=str(data["tx"]),
            code_hash=str(data["code_hash"]),
        )


@dataclass(frozen=True)
class Deployment:
    """Every contract release on one chain, and who deployed them.

    The first releases (TraceAnchor v1, ShipmentEscrow v1) are also written under the keys the
    first release of the file used (`trace_anchor`, `shipment_escrow`, ...), so a file written
    by an earlier chaintrace reads the same and an earlier chaintrace can read this one.
    """

    chain_id: int
    genesis_hash: str
    deployer: str
    releases: tuple[Release, ...]

    @property
    def key(self) -> str:
        """The deployments-file key: f"{chain_id}:{genesis_hash}"."""
        return f"{self.chain_id}:{self.genesis_hash}"

    def release(self, spec: ReleaseSpec) -> Release | None:
        """The deployed release of `spec`, if this chain has it."""
        return next(
            (r for r in self.releases if (r.name, r.version) == (spec.name, spec.version)), None
        )

    def _required(self, spec: ReleaseSpec) -> Release:
        found = self.release(spec)
        if found is None:
            raise DeploymentNotFound(f"no {spec.name} v{spec.version} on chain {self.chain_id}")
        return found

    def with_release(self, release: Release) -> Deployment:
        """A copy with `release` added, or replacing the same (name, version)."""
        kept = tuple(
            r for r in self.releases if (r.name, r.version) != (release.name, release.version)
        )
        return replace(self, releases=(*kept, release))

    @property
    def trace_anchor(self) -> str:
        """TraceAnchor v1's address (batches and readings' EIP-712 domain)."""
        return self._required(TRACE_ANCHOR_V1).address

    @property
    def trace_anchor_block(self) -> int:
        """The block TraceAnchor v1 was deployed in."""
        return self._required(TRACE_ANCHOR_V1).block

    @property
    def trace_anchor_tx(self) -> str:
        """The transaction that deployed TraceAnchor v1."""
        return self._required(TRACE_ANCHOR_V1).tx

    @property
    def shipment_escrow(self) -> str:
        """ShipmentEscrow v1's address."""
        return self._required(ESCROW_V1).address

    @property
    def shipment_escrow_block(self) -> int:
        """The block ShipmentEscrow v1 was deployed in."""
        return self._required(ESCROW_V1).block

    @property
    def shipment_escrow_tx(self) -> str:
        """The transaction that deployed ShipmentEscrow v1."""
        return self._required(ESCROW_V1).tx

    @property
    def shipment_escrow_v2(self) -> str | None:
        """ShipmentEscrow v2's address, or None on a chain not upgraded yet."""
        found = self.release(ESCROW_V2)
        return None if found is None else found.address

    @property
    def trace_anchor_v2(self) -> str | None:
        """TraceAnchor v2's address, or None on a chain not upgraded yet."""
        found = self.release(TRACE_ANCHOR_V2)
        return None if found is None else found.address

    @property
    def roots_anchor(self) -> Release:
        """The TraceAnchor new roots go to: the newest release deployed."""
        return self.release(TRACE_ANCHOR_V2) or self._required(TRACE_ANCHOR_V1)

    def anchor_release(self, version: int) -> Release:
        """The TraceAnchor release `version` (a batch's anchor_version); DeploymentNotFound."""
        try:
            return self._required(spec_of(TRACE_ANCHOR_V1.name, version))
        except ChainValueError as exc:
            raise DeploymentNotFound(str(exc)) from None

    @property
    def first_block(self) -> int:
        """The earliest block any release was deployed in (where a follower starts)."""
        return min(r.block for r in self.releases)

    def to_json(self) -> dict[str, Any]:
        """The deployments-file entry: every release, plus the first release's flat keys."""
        data: dict[str, Any] = {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "deployer": self.deployer,
            "releases": [asdict(r) for r in self.releases],
        }
        for prefix, spec in (("trace_anchor", TRACE_ANCHOR_V1), ("shipment_escrow", ESCROW_V1)):
            found = self.release(spec)
            if found is not None:
                data.update(
                    {
                        prefix: found.address,
                        f"{prefix}_block": found.block,
                        f"{prefix}_tx": found.tx,
                    }
                )
        return data

    @classmethod
    def from_json(cls, data: object) -> Deployment:
        """Parse one deployments-file entry; a malformed entry raises ChainValueError."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            if "releases" in data:
                releases = tuple(Release.from_json(r) for r in data["releases"])
            else:  # written by the first release: TraceAnchor v1 and ShipmentEscrow v1, flat
                releases = tuple(
                    Release(
                        name=spec.name,
                        version=1,
                        address=Web3.to_checksum_address(data[prefix]),
                        block=int(data[f"{prefix}_block"]),
                        tx=str(data[f"{prefix}_tx"]),
                        code_hash=runtime_code_hash(release_artifact(spec)),
                    )
                    for prefix, spec in (
                        ("trace_anchor", TRACE_ANCHOR_V1),
                        ("shipment_escrow", ESCROW_V1),
                    )
                )
            deployment = cls(
                chain_id=int(data["chain_id"]),
                genesis_hash=str(data["genesis_hash"]),
                deployer=Web3.to_checksum_address(data["deployer"]),
                releases=releases,
            )
            for needed in (TRACE_ANCHOR_V1, ESCROW_V1):
                deployment._required(needed)
            return deployment
        except (KeyError, TypeError, ValueError, DeploymentNotFound) as exc:
            raise ChainValueError(f"malformed deployment entry: {exc}") from None


def chain_identity(w3: Web3) -> tuple[int, str]:
    """(chain id, genesis block hash as 0x-hex) of the connected chain."""
    with chain_errors():
        genesis = w3.eth.get_block(0)["hash"]
        return int(w3.eth.chain_id), hex0x(genesis)


def _constructor_data(artifact: ContractArtifact, *args: Any) -> bytes:
    ctor: dict[str, Any] = next(
        (e for e in artifact.abi if e.get("type") == "constructor"), {"inputs": []}
    )
    types = [abi_type_string(p) for p in ctor["inputs"]]
    return artifact.bytecode + abi_encode(types, list(args))


def _receipt_release(spec: ReleaseSpec, receipt: Any) -> Release:
    return Release(
        name=spec.name,
        version=spec.version,
        address=Web3.to_checksum_address(receipt["contractAddress"]),
        block=int(receipt["blockNumber"]),
        tx=hex0x(receipt["transactionHash"]),
        code_hash=runtime_code_hash(release_artifact(spec)),
    )


def deploy(
    w3: Web3,
    deployer: LocalAccount,
    admin: str,
    anchorer: str,
    oracle: str | None,
    *,
    escrow_v2: bool = True,
    registrar: str | None = None,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
) -> Deployment:
    """Deploy every release from its committed artifact; `admin` administers them all.

    TraceAnchor v1 and ShipmentEscrow v1 end with `admin` as their only admin and `oracle` holding
    ORACLE_ROLE; then `upgrade` deploys the v2 releases (ShipmentEscrow v2, TraceAnchor v2) unless
    `escrow_v2` is False (how the first release deployed, kept for the upgrade tests).
    """
    admin, anchorer = Web3.to_checksum_address(admin), Web3.to_checksum_address(anchorer)
    sender = sender_for(w3, deployer)
    anchor_art = release_artifact(TRACE_ANCHOR_V1)
    anchor_rcpt = sender.send(None, _constructor_data(anchor_art, admin, anchorer))
    # The escrow starts with the deployer as admin so it can grant ORACLE_ROLE, then hands over.
    # The escrow reads reading digests from this TraceAnchor (dispute evidence).
    escrow_art = release_artifact(ESCROW_V1)
    escrow_args = (deployer.address, anchor_rcpt["contractAddress"])
    escrow_rcpt = sender.send(None, _constructor_data(escrow_art, *escrow_args))
    escrow = w3.eth.contract(address=escrow_rcpt["contractAddress"], abi=escrow_art.abi)
    with chain_errors():
        oracle_role = escrow.functions.ORACLE_ROLE().call()
        admin_role = escrow.functions.DEFAULT_ADMIN_ROLE().call()
    if oracle is not None:
        oracle_data = escrow.encode_abi("grantRole", [oracle_role, oracle])
        sender.send(escrow.address, oracle_data)
    if admin != deployer.address:
        sender.send(escrow.address, escrow.encode_abi("grantRole", [admin_role, admin]))
        renounce = escrow.encode_abi("renounceRole", [admin_role, deployer.address])
        sender.send(escrow.address, renounce)
    chain_id, genesis = chain_identity(w3)
    deployment = Deployment(
        chain_id=chain_id,
        genesis_hash=genesis,
        deployer=deployer.address,
        releases=(
            _receipt_release(TRACE_ANCHOR_V1, anchor_rcpt),
            _receipt_release(ESCROW_V1, escrow_rcpt),
        ),
    )
    if escrow_v2:
        deployment = upgrade(
            w3,
            deployer,
            deployment,
            admin,
            oracle,
            anchorer=anchorer,
            registrar=registrar,
            admin_delay=admin_delay,
        )
    _LOGGER.info("deployed %s", deployment)
    return deployment


def upgrade(
    w3: Web3,
    deployer: LocalAccount,
    deployment: Deployment,
    admin: str,
    oracle: str | None,
    *,
    anchorer: str | None = None,
    registrar: str | None = None,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
) -> Deployment:
    """Deploy the releases `deployment` lacks (ShipmentEscrow v2, TraceAnchor v2) beside the
    ones it has.

    Nothing deployed is touched: v1 keeps its deposits, roles, roots and proofs. Each v2 is built
    with the deployer as admin so it can grant roles (ORACLE_ROLE to `oracle`, GUARDIAN_ROLE and
    REGISTRAR_ROLE to `registrar`, default `admin`, ANCHORER_ROLE to `anchorer`); when `admin` is
    another address the deployer then begins the two-step admin transfer, which `admin` completes
    with acceptDefaultAdminTransfer() once `admin_delay` seconds have passed. TraceAnchor v2
    starts with TraceAnchor v1's brands that are not revoked (a nested prefix v1 allowed is not
    carried over: logged, the first registered keeps it).
    """
    admin = Web3.to_checksum_address(admin)
    upgraded = deployment
    if upgraded.release(ESCROW_V2) is None:
        upgraded = _deploy_escrow_v2(w3, deployer, upgraded, admin, oracle, admin_delay)
    if upgraded.release(TRACE_ANCHOR_V2) is None:
        if anchorer is None:
            raise ChainValueError("deploying TraceAnchor v2 needs the anchorer's address")
        anchorer = Web3.to_checksum_address(anchorer)
        registrar = Web3.to_checksum_address(registrar or admin)
        upgraded = _deploy_anchor_v2(
            w3, deployer, upgraded, admin, anchorer, admin_delay, registrar
        )
    return upgraded


def _hand_over(sender: Any, contract: Any, deployer: str, admin: str, delay: int) -> None:
    if admin != deployer:
        sender.send(contract.address, contract.encode_abi("beginDefaultAdminTransfer", [admin]))
        _LOGGER.warning(
            "%s: %s must call acceptDefaultAdminTransfer() after %d s",
            contract.address,
            admin,
            delay,
        )


def _deploy_escrow_v2(
    w3: Web3,
    deployer: LocalAccount,
    deployment: Deployment,
    admin: str,
    oracle: str | None,
    admin_delay: int,
) -> Deployment:
    sender = sender_for(w3, deployer)
    art = release_artifact(ESCROW_V2)
    args = (deployer.address, admin_delay, deployment.trace_anchor)
    rcpt = sender.send(None, _constructor_data(art, *args))
    escrow = w3.eth.contract(address=rcpt["contractAddress"], abi=art.abi)
    with chain_errors():
        oracle_role = escrow.functions.ORACLE_ROLE().call()
        guardian_role = escrow.functions.GUARDIAN_ROLE().call()
    if oracle is not None:
        sender.send(escrow.address, escrow.encode_abi("grantRole", [oracle_role, oracle]))
    sender.send(escrow.address, escrow.encode_abi("grantRole", [guardian_role, admin]))
    _hand_over(sender, escrow, deployer.address, admin, admin_delay)
    _LOGGER.info("deployed ShipmentEscrow v2 at %s beside v1", escrow.address)
    return deployment.with_release(_receipt_release(ESCROW_V2, rcpt))


def _deploy_anchor_v2(
    w3: Web3,
    deployer: LocalAccount,
    deployment: Deployment,
    admin: str,
    anchorer: str,
    admin_delay: int,
    registrar: str,
) -> Deployment:
    sender = sender_for(w3, deployer)
    art = release_artifact(TRACE_ANCHOR_V2)
    # The deployer registers v1's brands first (REGISTRAR_ROLE), then hands the role over.
    args = (deployer.address, admin_delay, anchorer, deployer.address)
    rcpt = sender.send(None, _constructor_data(art, *args))
    anchor = w3.eth.contract(address=rcpt["contractAddress"], abi=art.abi)
    for brand, prefix in _active_brands_v1(w3, deployment):
        try:
            sender.send(anchor.address, anchor.encode_abi("registerBrand", [brand, prefix]))
        except ContractRevert as exc:  # v1 allowed nested prefixes; v2 takes the first only
            _LOGGER.warning(
                "TraceAnchor v2: brand %s (prefix %s) not carried over: %s", brand, prefix, exc
            )
    if registrar != deployer.address:
        with chain_errors():
            role = anchor.functions.REGISTRAR_ROLE().call()
        sender.send(anchor.address, anchor.encode_abi("grantRole", [role, registrar]))
        renounce = anchor.encode_abi("renounceRole", [role, deployer.address])
        sender.send(anchor.address, renounce)
    _hand_over(sender, anchor, deployer.address, admin, admin_delay)
    _LOGGER.info("deployed TraceAnchor v2 at %s beside v1", anchor.address)
    return deployment.with_release(_receipt_release(TRACE_ANCHOR_V2, rcpt))


def _active_brands_v1(w3: Web3, deployment: Deployment) -> list[tuple[str, str]]:
    """(brand, prefix) of every brand TraceAnchor v1 registered and did not revoke, in order."""
    release = deployment.release(TRACE_ANCHOR_V1)
    if release is None:
        return []
    v1 = w3.eth.contract(
        address=Web3.to_checksum_address(release.address), abi=release_artifact(TRACE_ANCHOR_V1).abi
    )
    with chain_errors():
        head = int(w3.eth.block_number)
    logs = ranged_logs(v1.events.BrandRegistered(), release.block, head)
    brands = [(str(log["args"]["brand"]), str(log["args"]["companyPrefix"])) for log in logs]
    with chain_errors():
        return [(b, p) for b, p in brands if v1.functions.brandRevokedAt(b).call() == 0]


def code_matches(code: bytes, artifact: ContractArtifact) -> bool:
    """Whether on-chain code is the artifact's runtime code, ignoring its immutables' bytes."""
    expected = artifact.deployed_bytecode
    if not code or len(code) != len(expected):
        return False
    mask = bytearray(len(code))
    for refs in artifact.immutable_references.values():
        for ref in refs:
            mask[ref["start"] : ref["start"] + ref["length"]] = b"\x01" * ref["length"]
    return all(m or a == b for a, b, m in zip(code, expected, mask, strict=True))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ChainValueError(f"cannot read deployments file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ChainValueError(f"deployments file {path} is not a JSON object")
    return data


def save_deployment(deployment: Deployment, path: Path = DEFAULT_DEPLOYMENTS_FILE) -> None:
    """Add or replace this chain's entry, keeping other chains' entries; atomic write."""
    data = _read_file(path)
    data[deployment.key] = deployment.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".deployments-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def check_release(w3: Web3, release: Release) -> None:
    """DeploymentNotFound unless `release.address` holds its committed artifact's code."""
    artifact = release_artifact(release.spec)
    if release.code_hash != runtime_code_hash(artifact):
        raise DeploymentNotFound(
            f"{release.name} v{release.version} recorded with code hash {release.code_hash}, "
            f"its committed artifact has {runtime_code_hash(artifact)}"
        )
    with chain_errors():
        code = bytes(w3.eth.get_code(Web3.to_checksum_address(release.address)))
    if not code_matches(code, artifact):
        what = "no code" if not code else "different code"
        raise DeploymentNotFound(
            f"{release.name} v{release.version} at {release.address} has {what}"
        )


def load_deployment(w3: Web3, path: Path = DEFAULT_DEPLOYMENTS_FILE) -> Deployment | None:
    """This chain's recorded deployment after checking every release's code.

    None if the file has no entry for (chain id, genesis hash); DeploymentNotFound if a
    release's address does not hold its committed artifact (another build, a wrong address).
    """
    chain_id, genesis = chain_identity(w3)
    entry = _read_file(path).get(f"{chain_id}:{genesis}")
    if entry is None:
        return None
    deployment = Deployment.from_json(entry)
    for release in deployment.releases:
        try:
            check_release(w3, release)
        except ChainValueError as exc:  # a release this chaintrace does not know
            raise DeploymentNotFound(str(exc)) from None
    return deployment


def require_deployment(w3: Web3, path: Path = DEFAULT_DEPLOYMENTS_FILE) -> Deployment:
    """load_deployment, raising DeploymentNotFound when there is none."""
    deployment = load_deployment(w3, path)
    if deployment is None:
        chain_id, genesis = chain_identity(w3)
        raise DeploymentNotFound(
            f"no deployment for chain {chain_id} (genesis {genesis}) in {path}"
        )
    return deployment


def ensure_deployed(
    w3: Web3,
    deployer: LocalAccount,
    admin: str,
    anchorer: str,
    oracle: str | None,
    path: Path = DEFAULT_DEPLOYMENTS_FILE,
) -> Deployment:
    """The verified recorded deployment, upgraded with the releases it lacks; else a fresh one."""
    try:
        found = load_deployment(w3, path)
    except DeploymentNotFound as exc:
        _LOGGER.warning("recorded deployment unusable (%s): deploying again", exc)
        found = None
    if found is None:
        deployment = deploy(w3, deployer, admin, anchorer, oracle)
    else:
        deployment = upgrade(w3, deployer, found, admin, oracle, anchorer=anchorer)
        if deployment == found:
            return found
    save_deployment(deployment, path)
    return deployment
