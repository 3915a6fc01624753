"""AnchorSettings from the environment, and the key loading both workers share (chain.keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from pydantic import ValidationError

from chain.keys import DEV_ACCOUNTS, KeyConfigError, load_account, parse_private_key
from chain.settings import AnchorSettings

# anvil's account 0: public, so only acceptable in dev mode.
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
_ENV = (
    "CHAINTRACE_DEV",
    "DATABASE_URL",
    "CHAIN_RPC_URL",
    "DEPLOYMENTS_FILE",
    "FINALITY",
    "CONFIRMATIONS",
    "POLL_INTERVAL",
    "MAX_BATCH_SIZE",
    "MAX_BATCH_DELAY",
    "ANCHORER_PRIVATE_KEY",
    "ANCHORER_KEYSTORE",
    "ANCHORER_KEYSTORE_PASSWORD",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable of the developer's shell or CI leaks into these tests."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def real_key() -> str:
    return "0x" + bytes(Account.create().key).hex()


def test_reads_the_documented_environment(clean_env: pytest.MonkeyPatch, real_key: str) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://db/chaintrace")
    clean_env.setenv("CHAIN_RPC_URL", "https://rpc.example")
    clean_env.setenv("ANCHORER_PRIVATE_KEY", real_key)
    clean_env.setenv("CONFIRMATIONS", "12")
    clean_env.setenv("FINALITY", "tag")
    clean_env.setenv("MAX_BATCH_SIZE", "500")
    clean_env.setenv("MAX_BATCH_DELAY", "0.5")
    settings = AnchorSettings()
    assert settings.database_url == "postgresql://db/chaintrace"
    assert settings.chain_rpc_url == "https://rpc.example"
    assert (settings.confirmations, settings.finality) == (12, "tag")
    assert (settings.max_batch_size, settings.max_batch_delay) == (500, 0.5)
    assert not settings.dev
    assert settings.load_account().key.hex() == real_key[2:]
    # The key never shows in the settings' repr (logs, tracebacks).
    assert real_key[2:] not in repr(settings) and real_key[2:] not in str(settings.model_dump())


def test_defaults() -> None:
    settings = AnchorSettings(chaintrace_dev=True)
    assert (settings.max_batch_size, settings.max_batch_delay) == (1000, 2.0)
    assert (settings.finality, settings.confirmations) == ("auto", 2)
    assert settings.deployments_file == Path(".chaintrace/deployments.json")


def test_outside_dev_mode_urls_and_key_are_required(real_key: str) -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL, CHAIN_RPC_URL must be set"):
        AnchorSettings(anchorer_private_key=real_key)
    with pytest.raises(ValidationError, match="ANCHORER_PRIVATE_KEY or ANCHORER_KEYSTORE"):
        AnchorSettings(database_url="sqlite://", chain_rpc_url="http://x")
    # Dev mode: the CLI fills in the embedded endpoints and a dev key.
    assert AnchorSettings(chaintrace_dev=True).database_url is None


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("changeme", "placeholder"),
        ("", "placeholder"),
        ("0x" + "00" * 32, "outside the secp256k1 range"),
        ("0x" + "11" * 32, "placeholder"),
        ("0x" + "ab" * 32, "placeholder"),
        ("0x1234", "64 hex digits"),
        ("0x" + "zz" * 32, "64 hex digits"),
        ("0x" + "ff" * 32, "outside the secp256k1 range"),
        (ANVIL_KEY_0, "public anvil/Hardhat test key"),
    ],
)
def test_placeholder_and_malformed_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        AnchorSettings(database_url="sqlite://", chain_rpc_url="http://x", anchorer_private_key=key)
    # The error never repeats the value (it could be a real key with a typo).
    if len(key) > 8:
        assert key[4:] not in str(caught.value)


def test_the_public_anvil_keys_work_in_dev_mode_only() -> None:
    settings = AnchorSettings(chaintrace_dev=True, anchorer_private_key=ANVIL_KEY_0)
    assert settings.load_account().address.lower() in DEV_ACCOUNTS
    with pytest.raises(KeyConfigError, match="public anvil/Hardhat test account"):
        load_account(private_key=ANVIL_KEY_0)


def test_a_key_and_a_keystore_together_are_refused(tmp_path: Path, real_key: str) -> None:
    with pytest.raises(ValidationError, match="not both"):
        AnchorSettings(
            chaintrace_dev=True,
            anchorer_private_key=real_key,
            anchorer_keystore=tmp_path / "k.json",
            anchorer_keystore_password="pw",
        )


def test_keystore_with_password(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    account = Account.create()
    keystore = tmp_path / "anchorer.json"
    encrypted = Account.encrypt(account.key, "correct horse", kdf="pbkdf2", iterations=2)
    keystore.write_text(json.dumps(encrypted))
    clean_env.setenv("DATABASE_URL", "sqlite://")
    clean_env.setenv("CHAIN_RPC_URL", "http://x")
    clean_env.setenv("ANCHORER_KEYSTORE", str(keystore))
    with pytest.raises(ValidationError, match="needs ANCHORER_KEYSTORE_PASSWORD"):
        AnchorSettings()
    clean_env.setenv("ANCHORER_KEYSTORE_PASSWORD", "correct horse")
    assert AnchorSettings().load_account().address == account.address
    clean_env.setenv("ANCHORER_KEYSTORE_PASSWORD", "wrong horse")
    with pytest.raises(KeyConfigError, match="cannot decrypt keystore"):
        AnchorSettings().load_account()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "is not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"crypto": {}}', "malformed|cannot decrypt"),
        (b"\xff\xfe", "is not JSON"),
        (b" " * 70_000, "too large"),
    ],
)
def test_hostile_keystore_files_give_clear_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "keystore.json"
    path.write_bytes(content)
    with pytest.raises(KeyConfigError, match=message):
        load_account(keystore=path, password="pw")
    with pytest.raises(KeyConfigError, match="cannot read keystore"):
        load_account(keystore=tmp_path / "missing.json", password="pw")


def test_parse_private_key_accepts_both_spellings(real_key: str) -> None:
    assert parse_private_key(real_key) == parse_private_key(real_key[2:].upper())
    with pytest.raises(KeyConfigError, match="no private key or keystore"):
        load_account()
