"""ProcessSettings: the dev-mode switch and the URLs a process refuses to run without."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError

from store.settings_base import ProcessSettings


class _Settings(ProcessSettings):
    required_outside_dev: ClassVar[tuple[str, ...]] = ("database_url", "other_url")

    other_url: str | None = None


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHAINTRACE_DEV", "DATABASE_URL", "OTHER_URL"):
        monkeypatch.delenv(name, raising=False)


def test_names_every_missing_url_in_declared_order() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL, OTHER_URL must be set outside dev"):
        _Settings()
    with pytest.raises(ValidationError, match=r"error, OTHER_URL must be set outside dev mode"):
        _Settings(database_url="sqlite:///x.db", other_url="")


def test_dev_mode_allows_missing_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINTRACE_DEV", "1")
    settings = _Settings()
    assert settings.dev and settings.database_url is None


def test_base_requires_only_the_database() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL must be set outside dev mode"):
        ProcessSettings()
    assert not ProcessSettings(database_url="sqlite:///x.db").dev


def test_errors_never_echo_input() -> None:
    secret = "postgresql://user:hunter2@db/x"
    with pytest.raises(ValidationError) as caught:
        _Settings(database_url=secret)  # OTHER_URL missing: a model-level error
    assert "hunter2" not in str(caught.value)
