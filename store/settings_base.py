"""What every process's Settings share: dev mode, the database URL, no silent defaults."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProcessSettings(BaseSettings):
    """Base of a process's Settings; subclasses name the URLs they need outside dev mode."""

    # hide_input_in_errors: a URL may carry a password and a key field a secret; never echo them.
    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, frozen=True, hide_input_in_errors=True
    )

    # Fields whose variables (the upper-case field name) must be set outside dev mode.
    required_outside_dev: ClassVar[tuple[str, ...]] = ("database_url",)

    # CHAINTRACE_DEV: embedded defaults (and public anvil keys) are allowed only then.
    chaintrace_dev: bool = False
    database_url: str | None = None

    @property
    def dev(self) -> bool:
        """Whether the process runs in dev mode (CHAINTRACE_DEV)."""
        return self.chaintrace_dev

    @model_validator(mode="after")
    def _required_outside_dev(self) -> Self:
        if not self.chaintrace_dev:
            missing = [n.upper() for n in self.required_outside_dev if not getattr(self, n)]
            if missing:
                raise ValueError(f"{', '.join(missing)} must be set outside dev mode")
        return self
