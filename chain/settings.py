"""Settings of the two key-holding processes: `chaintrace anchor` and `chaintrace settle`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field, SecretStr, model_validator

from chain.keys import KeyConfigError, is_dev_account, load_account, parse_private_key
from store.settings_base import ProcessSettings

FinalityMode = Literal["tag", "confirmations", "auto"]

# Values people paste into .env files before they have a real secret.
_PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "xxx", "todo", "replace-me", "<key>"}
)


class _WorkerSettings(ProcessSettings):
    """What both workers share: database, chain, deployments, finality, polling."""

    required_outside_dev: ClassVar[tuple[str, ...]] = ("database_url", "chain_rpc_url")

    chain_rpc_url: str | None = None
    deployments_file: Path = Path(".chaintrace/deployments.json")
    # DESIGN: the chain's `finalized` tag where it has one, else N confirmations.
    finality: FinalityMode = "auto"
    confirmations: int = Field(default=2, ge=1, le=10_000)
    poll_interval: float = Field(default=1.0, gt=0, le=3600)


def _check_key_source(
    role: str,
    private_key: SecretStr | None,
    keystore: Path | None,
    password: SecretStr | None,
    dev: bool,
) -> None:
    """Refuse a missing, doubled or placeholder key source (a key is optional in dev mode)."""
    if private_key is not None and keystore is not None:
        raise ValueError(f"set {role}_PRIVATE_KEY or {role}_KEYSTORE, not both")
    if private_key is None and keystore is None:
        if not dev:
            raise ValueError(f"{role}_PRIVATE_KEY or {role}_KEYSTORE must be set outside dev mode")
        return
    if private_key is not None:
        text = private_key.get_secret_value().strip()
        if text.lower() in _PLACEHOLDERS:
            raise ValueError(f"{role}_PRIVATE_KEY is a placeholder")
        try:
            key = parse_private_key(text)
        except KeyConfigError as exc:
            raise ValueError(f"{role}_PRIVATE_KEY: {exc}") from None
        if not dev and is_dev_account(Account.from_key(key).address):
            raise ValueError(f"{role}_PRIVATE_KEY is a public anvil/Hardhat test key")
    if keystore is not None:
        if password is None:
            raise ValueError(f"{role}_KEYSTORE needs {role}_KEYSTORE_PASSWORD")
        if not dev and password.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError(f"{role}_KEYSTORE_PASSWORD is a placeholder")


class SigningKeyMixin:
    """For Settings holding one key: <key_role>_private_key, or _keystore + _keystore_password."""

    key_role: ClassVar[str]
    if TYPE_CHECKING:
        chaintrace_dev: bool

    def key_source(self) -> tuple[SecretStr | None, Path | None, SecretStr | None]:
        """The role's (private key, keystore file, keystore password) fields."""
        role = self.key_role
        private_key: SecretStr | None = getattr(self, f"{role}_private_key")
        keystore: Path | None = getattr(self, f"{role}_keystore")
        password: SecretStr | None = getattr(self, f"{role}_keystore_password")
        return private_key, keystore, password

    def check_key_source(self) -> None:
        """For a model validator: refuse a missing, doubled or placeholder key source."""
        _check_key_source(self.key_role.upper(), *self.key_source(), self.chaintrace_dev)

    def load_account(self) -> LocalAccount:
        """The role's account; raises KeyConfigError if none is configured or it is unusable."""
        private_key, keystore, password = self.key_source()
        return load_account(
            private_key=_reveal(private_key),
            keystore=keystore,
            password=_reveal(password),
            allow_dev_keys=self.chaintrace_dev,
            what=f"{self.key_role} key",
        )


class FollowSettings(_WorkerSettings):
    """The chain follower (run inside `chaintrace anchor`, or on its own): no key needed."""

    # Blocks per eth_getLogs request, and how deep a reorg the follower re-checks each pass.
    follow_max_range: int = Field(default=2000, ge=1, le=100_000)
    follow_reorg_depth: int = Field(default=64, ge=1, le=10_000)
    # Requests per JSON-RPC batch (block reads): below the caps of common nodes and providers
    # (geth and Alchemy 1,000); a batch the node refuses is sent again one request at a time.
    follow_rpc_batch: int = Field(default=100, ge=1, le=1_000)


class AnchorSettings(SigningKeyMixin, FollowSettings):
    """`chaintrace anchor`: batches pending leaves into Merkle roots and anchors them."""

    key_role: ClassVar[str] = "anchorer"
    anchorer_private_key: SecretStr | None = None
    anchorer_keystore: Path | None = None
    anchorer_keystore_password: SecretStr | None = None
    # A batch closes at this many leaves, or when its oldest leaf has waited max_batch_delay.
    max_batch_size: int = Field(default=1000, ge=1, le=1_000_000)
    max_batch_delay: float = Field(default=2.0, ge=0, le=86_400)
    # One active sender per key: a standby takes over this long after the holder went silent.
    lease_ttl: float = Field(default=30.0, gt=0, le=3600)
    # A sent tx still unmined after this many blocks is replaced with fees bumped >= 12.5 %.
    replace_after_blocks: int = Field(default=5, ge=1, le=100_000)
    # Run the chain follower (chain/follower.py) in the anchor process, once per pass.
    follow_chain: bool = True

    @model_validator(mode="after")
    def _key(self) -> Self:
        self.check_key_source()
        return self


class SettleSettings(SigningKeyMixin, _WorkerSettings):
    """`chaintrace settle`: attests deliveries with the oracle key and settles escrows."""

    key_role: ClassVar[str] = "oracle"
    oracle_private_key: SecretStr | None = None
    oracle_keystore: Path | None = None
    oracle_keystore_password: SecretStr | None = None
    # An oracle tx still unmined after this many blocks is replaced with fees bumped >= 12.5 %
    # (the anchoring worker's default).
    replace_after_blocks: int = Field(default=5, ge=1, le=100_000)
    # How long a pass waits for the receipt of what it sent; later passes follow it if unmined.
    receipt_timeout: float = Field(default=120.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _key(self) -> Self:
        self.check_key_source()
        return self


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()
