"""Loading the platform's signing keys (anchorer, oracle) from a hex key or a keystore file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.dev_accounts import DEV_ACCOUNTS
from chain.errors import ChainError

# secp256k1 group order: a private key must lie in [1, n - 1].
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
# A keystore is a few hundred bytes; refuse anything large before parsing it.
_MAX_KEYSTORE_BYTES = 64 * 1024


class KeyConfigError(ChainError, ValueError):
    """A private key or keystore that is missing, malformed, a placeholder or undecryptable."""


def parse_private_key(text: str) -> bytes:
    """The 32 key bytes of a hex private key (with or without 0x); raises KeyConfigError."""
    text = text.strip()
    if not _HEX_KEY.match(text):
        # Never echo the value: it may be a real key with a typo.
        raise KeyConfigError("private key must be 32 bytes of hex (64 hex digits, optional 0x)")
    key = bytes.fromhex(text.removeprefix("0x"))
    if not 0 < int.from_bytes(key, "big") < _SECP256K1_N:
        raise KeyConfigError("private key is outside the secp256k1 range")
    if len(set(key)) <= 2:
        # 0x1111..., 0xabab...: obviously typed by hand as a placeholder.
        raise KeyConfigError("private key is a placeholder (repeating bytes)")
    return key


def is_dev_account(address: str) -> bool:
    """Whether `address` belongs to the public anvil/Hardhat test mnemonic."""
    return address.lower() in DEV_ACCOUNTS


def load_account(
    *,
    private_key: str | None = None,
    keystore: Path | None = None,
    password: str | None = None,
    allow_dev_keys: bool = False,
    what: str = "key",
) -> LocalAccount:
    """A LocalAccount from exactly one of a hex key or a keystore file (+ password)."""
    if private_key is not None and keystore is not None:
        raise KeyConfigError(f"{what}: give either a private key or a keystore, not both")
    if private_key is not None:
        account: LocalAccount = Account.from_key(parse_private_key(private_key))
    elif keystore is not None:
        account = Account.from_key(_decrypt_keystore(keystore, password, what))
    else:
        raise KeyConfigError(f"{what}: no private key or keystore configured")
    if not allow_dev_keys and is_dev_account(account.address):
        raise KeyConfigError(
            f"{what}: {account.address} is a public anvil/Hardhat test account; "
            "use it only in dev mode (CHAINTRACE_DEV=1)"
        )
    return account


def _decrypt_keystore(path: Path, password: str | None, what: str) -> bytes:
    if password is None:
        raise KeyConfigError(f"{what}: keystore {path} needs a password")
    try:
        raw = path.read_bytes()[: _MAX_KEYSTORE_BYTES + 1]
    except OSError as exc:
        raise KeyConfigError(f"{what}: cannot read keystore {path}: {exc.strerror}") from exc
    if len(raw) > _MAX_KEYSTORE_BYTES:
        raise KeyConfigError(f"{what}: keystore {path} is too large to be a keystore")
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyConfigError(f"{what}: keystore {path} is not JSON") from exc
    if not isinstance(data, dict):
        raise KeyConfigError(f"{what}: keystore {path} is not a JSON object")
    try:
        key = bytes(Account.decrypt(data, password))
    except ValueError as exc:
        # eth-account raises ValueError for a wrong MAC (wrong password) as for bad fields.
        raise KeyConfigError(f"{what}: cannot decrypt keystore {path}: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise KeyConfigError(f"{what}: keystore {path} is malformed") from exc
    return key
