"""Shared machinery of the typed contract clients: calls, unsigned txs, signed sends, roles."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexAddress, HexStr
from web3 import Web3
from web3.types import BlockIdentifier, TxParams, Wei

from chain.clients.types import ZERO_ADDRESS, TxResult
from chain.errors import ChainValueError
from chain.releases import ReleaseSpec, release_artifact
from chain.toolchain.artifacts import ContractArtifact
from chain.transactions import TransactionSender, chain_errors, sender_for, unsigned_transaction
from core.abi_values import check_address
from core.hexstr import hex0x

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")

Signer = LocalAccount | TransactionSender


def snake(name: str) -> str:
    """camelCase -> snake_case (`minTempCentiC` -> `min_temp_centi_c`)."""
    return _CAMEL.sub(r"_\1", name).lower()


def struct_tuple(components: list[dict[str, Any]], value: Any) -> tuple[Any, ...]:
    """An ABI tuple from a mapping or an object, by the struct's field names (camel or snake)."""
    if isinstance(value, tuple):
        return value
    out = []
    for comp in components:
        name = comp["name"]
        for key in (name, snake(name)):
            if isinstance(value, Mapping) and key in value:
                out.append(value[key])
                break
            if not isinstance(value, Mapping) and hasattr(value, key):
                out.append(getattr(value, key))
                break
        else:
            raise ChainValueError(f"struct value has no field {name!r} ({snake(name)!r})")
    return tuple(out)


def checksum(value: Any, what: str = "address") -> ChecksumAddress:
    """The checksum form of an address (0x-hex, or 20 raw bytes from the chain); anything else
    raises ChainValueError."""
    if isinstance(value, bytes | bytearray) and len(value) == 20:
        value = hex0x(value)
    return ChecksumAddress(HexAddress(HexStr(check_address(value, what, ChainValueError))))


def optional_address(value: str) -> str | None:
    """None for the zero address, else the checksum address."""
    return None if int(value, 16) == 0 else checksum(value)


def as_bytes32(value: bytes | str, what: str = "value") -> bytes:
    """32 bytes from bytes or 0x-hex; anything else raises ChainValueError."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise ChainValueError(f"{what} is not hex") from None
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ChainValueError(f"{what} must be 32 bytes")
    return bytes(value)


class ContractClient:
    """A deployed contract of one release, at one address; its ABI from the committed artifact."""

    release: ClassVar[ReleaseSpec]

    def __init__(self, w3: Web3, address: str, artifact: ContractArtifact | None = None) -> None:
        self.w3 = w3
        self.artifact = artifact or release_artifact(self.release)
        self.contract = w3.eth.contract(address=checksum(address), abi=self.artifact.abi)
        self._constants: dict[str, Any] = {}

    @property
    def address(self) -> str:
        """The contract's checksum address."""
        return str(self.contract.address)

    def _components(self, function: str, index: int = 0) -> list[dict[str, Any]]:
        entry = next(e for e in self.artifact.abi if e.get("name") == function)
        return cast(list[dict[str, Any]], entry["inputs"][index]["components"])

    def _call(self, function: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        with chain_errors():
            return getattr(self.contract.functions, function)(*args).call(block_identifier=block)

    def _constant(self, function: str) -> Any:
        """A value that never changes for a deployment (role ids, type hashes): read once."""
        if function not in self._constants:
            self._constants[function] = self._call(function)
        return self._constants[function]

    def _data(self, function: str, *args: Any) -> str:
        try:
            return str(self.contract.encode_abi(function, list(args)))
        except (TypeError, ValueError) as exc:  # web3's ABI mismatch errors are both
            raise ChainValueError(f"bad arguments for {function}: {exc}") from None

    def _build(self, sender: str, function: str, *args: Any, value: int = 0) -> TxParams:
        """An unsigned transaction calling `function` from `sender` (for the user's wallet)."""
        return unsigned_transaction(
            self.w3, sender, self.address, self._data(function, *args), value
        )

    def simulate(self, tx: TxParams, block: BlockIdentifier = "latest") -> None:
        """eth_call an (unsigned) transaction: a revert raises its named exception, else None."""
        call: TxParams = {"to": tx["to"], "data": tx["data"], "value": Wei(int(tx.get("value", 0)))}
        if "from" in tx:
            call["from"] = tx["from"]
        with chain_errors():
            self.w3.eth.call(call, block_identifier=block)

    def _send(self, signer: Signer, function: str, *args: Any, value: int = 0) -> TxResult:
        """Sign with a platform or test key, send, wait; reverts raise their named exception."""
        receipt = sender_for(self.w3, signer).send(self.address, self._data(function, *args), value)
        return TxResult.from_receipt(receipt)

    # -- AccessControl (both contracts) --

    def default_admin_role(self) -> bytes:
        """DEFAULT_ADMIN_ROLE (zero)."""
        return bytes(self._constant("DEFAULT_ADMIN_ROLE"))

    def has_role(self, role: bytes, account: str) -> bool:
        """Whether `account` holds `role`."""
        return bool(self._call("hasRole", role, checksum(account, "account")))

    def build_grant_role(self, sender: str, role: bytes, account: str) -> TxParams:
        """Unsigned grantRole (admin of the role only)."""
        return self._build(sender, "grantRole", role, checksum(account, "account"))

    def send_grant_role(self, signer: Signer, role: bytes, account: str) -> TxResult:
        """grantRole signed by `signer`."""
        return self._send(signer, "grantRole", role, checksum(account, "account"))

    def build_revoke_role(self, sender: str, role: bytes, account: str) -> TxParams:
        """Unsigned revokeRole (admin of the role only)."""
        return self._build(sender, "revokeRole", role, checksum(account, "account"))

    def send_revoke_role(self, signer: Signer, role: bytes, account: str) -> TxResult:
        """revokeRole signed by `signer`."""
        return self._send(signer, "revokeRole", role, checksum(account, "account"))

    def chain_id(self) -> int:
        """The connected chain's id (read once)."""
        if "chainId" not in self._constants:
            with chain_errors():
                self._constants["chainId"] = int(self.w3.eth.chain_id)
        return int(self._constants["chainId"])

    def eip712_domain(self) -> dict[str, Any]:
        """The contract's ERC-5267 domain: name, version, chainId, verifyingContract."""
        fields = self._call("eip712Domain")
        return {
            "name": fields[1],
            "version": fields[2],
            "chainId": int(fields[3]),
            "verifyingContract": checksum(fields[4]),
        }


__all__ = ["ZERO_ADDRESS", "ContractClient", "Signer", "as_bytes32", "checksum", "struct_tuple"]
