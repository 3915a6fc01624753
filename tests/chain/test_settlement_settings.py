"""SettleSettings: the oracle key comes from ORACLE_* only, never from the anchorer's variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from pydantic import ValidationError

from chain.settings import SettleSettings

_ENV = (
    "CHAINTRACE_DEV",
    "DATABASE_URL",
    "CHAIN_RPC_URL",
    "ORACLE_PRIVATE_KEY",
    "ORACLE_KEYSTORE",
    "ORACLE_KEYSTORE_PASSWORD",
    "ANCHORER_PRIVATE_KEY",
    "POLL_INTERVAL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/chaintrace")
    monkeypatch.setenv("CHAIN_RPC_URL", "https://rpc.example")
    return monkeypatch


def test_oracle_key_from_env(clean_env: pytest.MonkeyPatch) -> None:
    oracle = Account.create()
    clean_env.setenv("ORACLE_PRIVATE_KEY", bytes(oracle.key).hex())
    clean_env.setenv("POLL_INTERVAL", "5")
    settings = SettleSettings()
    assert settings.load_account().address == oracle.address
    assert settings.poll_interval == 5.0


def test_the_anchorer_key_is_not_the_oracle_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANCHORER_PRIVATE_KEY", bytes(Account.create().key).hex())
    with pytest.raises(ValidationError, match="ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE"):
        SettleSettings()


def test_oracle_keystore(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    oracle = Account.create()
    path = tmp_path / "oracle.json"
    path.write_text(json.dumps(Account.encrypt(oracle.key, "s3cret!", kdf="pbkdf2", iterations=2)))
    clean_env.setenv("ORACLE_KEYSTORE", str(path))
    clean_env.setenv("ORACLE_KEYSTORE_PASSWORD", "changeme")
    with pytest.raises(ValidationError, match="ORACLE_KEYSTORE_PASSWORD is a placeholder"):
        SettleSettings()
    clean_env.setenv("ORACLE_KEYSTORE_PASSWORD", "s3cret!")
    assert SettleSettings().load_account().address == oracle.address


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_bad_poll_interval_is_refused(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("ORACLE_PRIVATE_KEY", bytes(Account.create().key).hex())
    clean_env.setenv("POLL_INTERVAL", value)
    with pytest.raises(ValidationError, match="poll_interval"):
        SettleSettings()
