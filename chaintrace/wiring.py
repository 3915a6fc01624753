"""Settings for each process: the environment first, then (dev mode only) run.json's endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import SecretStr
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from chain.settings import SigningKeyMixin
from chain.toolchain.anvil import dev_accounts
from chaintrace.runinfo import RunInfo

S = TypeVar("S", bound=BaseSettings)


class CliSettings(BaseSettings):
    """What the CLI itself reads: dev mode and where dev-mode state lives."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    chaintrace_dev: bool = False
    chaintrace_home: Path = Path(".chaintrace")


def dev_fallback(state_dir: Path) -> dict[str, Any]:
    """Endpoints, deployment and public dev keys of the running embedded services."""
    info = RunInfo.read(state_dir)
    accounts = dev_accounts(3)
    values: dict[str, Any] = {
        "chaintrace_dev": True,
        "database_url": info.database_url,
        "chain_rpc_url": info.chain_rpc_url,
        "mqtt_url": info.mqtt_url,
        "protocol": info.mqtt_protocol,
        "anchorer_private_key": accounts[1].key.hex(),
        "oracle_private_key": accounts[2].key.hex(),
    }
    if info.deployments_file:
        values["deployments_file"] = Path(info.deployments_file)
        try:
            entries = json.loads(Path(info.deployments_file).read_text())
        except (OSError, ValueError):  # missing or torn: require_deployment says so later
            entries = None
        entry = next(iter(entries.values()), None) if isinstance(entries, dict) else None
        if isinstance(entry, dict):
            values["reading_chain_id"] = entry["chain_id"]
            values["reading_verifying_contract"] = entry["trace_anchor"]
    return {k: v for k, v in values.items() if v is not None}


def load_settings(cls: type[S], fallback: dict[str, Any] | None = None, **explicit: Any) -> S:
    """`cls` from explicit values, then the environment, then `fallback` (lowest priority)."""
    if not fallback:
        return cls(**explicit)
    known = {k: v for k, v in fallback.items() if k in cls.model_fields}

    class _WithFallback(cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls_,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            runinfo = InitSettingsSource(settings_cls, init_kwargs=known)
            return init_settings, env_settings, dotenv_settings, file_secret_settings, runinfo

    _WithFallback.__name__ = cls.__name__
    return _WithFallback(**explicit)


class AuditSettings(BaseSettings):
    """`db upgrade`, `export`, `verify`: a database and a chain, no key."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    chaintrace_dev: bool = False
    database_url: str | None = None
    chain_rpc_url: str | None = None
    deployments_file: Path = Path(".chaintrace/deployments.json")


class DeploySettings(SigningKeyMixin, BaseSettings):
    """`deploy`: a chain and the deployer's key (hex or keystore; public dev keys in dev mode)."""

    key_role: ClassVar[str] = "deployer"
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    chaintrace_dev: bool = False
    chain_rpc_url: str
    deployments_file: Path = Path(".chaintrace/deployments.json")
    deployer_private_key: SecretStr | None = None
    deployer_keystore: Path | None = None
    deployer_keystore_password: SecretStr | None = None
