"""Deploy TraceAnchor and ShipmentEscrow, record them per (chain id, genesis), verify on load."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.artifacts import ContractArtifact, abi_type_string
from chain.compile import default_artifacts
from chain.errors import ChainValueError, DeploymentNotFound
from chain.transactions import chain_errors, sender_for

_LOGGER = logging.getLogger(__name__)

DEFAULT_DEPLOYMENTS_FILE = Path(".chaintrace/deployments.json")


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live on one chain, and how they got there."""

    chain_id: int
    genesis_hash: str
    trace_anchor: str
    shipment_escrow: str
    trace_anchor_block: int
    shipment_escrow_block: int
    trace_anchor_tx: str
    shipment_escrow_tx: str
    deployer: str

    @property
    def key(self) -> str:
        """The deployments-file key: f"{chain_id}:{genesis_hash}"."""
        return f"{self.chain_id}:{self.genesis_hash}"

    @classmethod
    def from_json(cls, data: object) -> Deployment:
        """Parse one deployments-file entry; a malformed entry raises ChainValueError."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            return cls(
                chain_id=int(data["chain_id"]),
                genesis_hash=str(data["genesis_hash"]),
                trace_anchor=Web3.to_checksum_address(data["trace_anchor"]),
                shipment_escrow=Web3.to_checksum_address(data["shipment_escrow"]),
                trace_anchor_block=int(data["trace_anchor_block"]),
                shipment_escrow_block=int(data["shipment_escrow_block"]),
                trace_anchor_tx=str(data["trace_anchor_tx"]),
                shipment_escrow_tx=str(data["shipment_escrow_tx"]),
                deployer=Web3.to_checksum_address(data["deployer"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ChainValueError(f"malformed deployment entry: {exc}") from None


def chain_identity(w3: Web3) -> tuple[int, str]:
    """(chain id, genesis block hash as 0x-hex) of the connected chain."""
    with chain_errors():
        genesis = w3.eth.get_block(0)["hash"]
        return int(w3.eth.chain_id), "0x" + bytes(genesis).hex()


def _constructor_data(artifact: ContractArtifact, *args: Any) -> bytes:
    ctor: dict[str, Any] = next(
        (e for e in artifact.abi if e.get("type") == "constructor"), {"inputs": []}
    )
    types = [abi_type_string(p) for p in ctor["inputs"]]
    return artifact.bytecode + abi_encode(types, list(args))


def deploy(
    w3: Web3,
    deployer: LocalAccount,
    admin: str,
    anchorer: str,
    oracle: str | None,
    artifacts: dict[str, ContractArtifact] | None = None,
) -> Deployment:
    """Deploy both contracts; `admin` ends up the only admin, `oracle` holds ORACLE_ROLE."""
    arts = artifacts or default_artifacts()
    admin, anchorer = Web3.to_checksum_address(admin), Web3.to_checksum_address(anchorer)
    sender = sender_for(w3, deployer)
    anchor_rcpt = sender.send(None, _constructor_data(arts["TraceAnchor"], admin, anchorer))
    # The escrow starts with the deployer as admin so it can grant ORACLE_ROLE, then hands over.
    # The escrow reads reading digests from this TraceAnchor (dispute evidence).
    escrow_args = (deployer.address, anchor_rcpt["contractAddress"])
    escrow_rcpt = sender.send(None, _constructor_data(arts["ShipmentEscrow"], *escrow_args))
    escrow = w3.eth.contract(address=escrow_rcpt["contractAddress"], abi=arts["ShipmentEscrow"].abi)
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
        trace_anchor=str(anchor_rcpt["contractAddress"]),
        shipment_escrow=str(escrow_rcpt["contractAddress"]),
        trace_anchor_block=int(anchor_rcpt["blockNumber"]),
        shipment_escrow_block=int(escrow_rcpt["blockNumber"]),
        trace_anchor_tx="0x" + bytes(anchor_rcpt["transactionHash"]).hex(),
        shipment_escrow_tx="0x" + bytes(escrow_rcpt["transactionHash"]).hex(),
        deployer=deployer.address,
    )
    _LOGGER.info("deployed %s", deployment)
    return deployment


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
    data[deployment.key] = asdict(deployment)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".deployments-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def load_deployment(
    w3: Web3,
    path: Path = DEFAULT_DEPLOYMENTS_FILE,
    artifacts: dict[str, ContractArtifact] | None = None,
) -> Deployment | None:
    """This chain's recorded deployment after checking the code at both addresses.

    None if the file has no entry for (chain id, genesis hash); DeploymentNotFound if the entry's
    addresses do not hold the compiled contracts (another build, a wrong or stale address).
    """
    chain_id, genesis = chain_identity(w3)
    entry = _read_file(path).get(f"{chain_id}:{genesis}")
    if entry is None:
        return None
    deployment = Deployment.from_json(entry)
    arts = artifacts or default_artifacts()
    for name, address in (
        ("TraceAnchor", deployment.trace_anchor),
        ("ShipmentEscrow", deployment.shipment_escrow),
    ):
        with chain_errors():
            code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
        if not code_matches(code, arts[name]):
            what = "no code" if not code else "different code"
            raise DeploymentNotFound(f"{name} at {address} on chain {chain_id} has {what}")
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
    """The verified recorded deployment, else a fresh one (recorded in `path`)."""
    try:
        found = load_deployment(w3, path)
    except DeploymentNotFound as exc:
        _LOGGER.warning("recorded deployment unusable (%s): deploying again", exc)
        found = None
    if found is not None:
        return found
    deployment = deploy(w3, deployer, admin, anchorer, oracle)
    save_deployment(deployment, path)
    return deployment
