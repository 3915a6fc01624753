"""The dev Mosquitto keeps its owner's user, whatever USER/LOGNAME say (they are only env vars)."""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path

import pytest

from chaintrace.embedded_broker import EmbeddedBroker
from tests.utils.mosquitto import find_mosquitto, skip_or_fail


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^Uid:\s+\d+\s+(\d+)", status, re.MULTILINE)
    assert match, status
    return int(match.group(1))  # the effective uid


def test_the_dev_mosquitto_runs_as_the_effective_user_not_the_one_the_env_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if find_mosquitto() is None:
        skip_or_fail("mosquitto is not installed: the embedded broker would be amqtt, in-process")
    me = pwd.getpwuid(os.geteuid()).pw_name
    # What getpass.getuser() reads, naming another real user.
    other = next((u.pw_name for u in pwd.getpwall() if u.pw_uid != os.geteuid()), "no-such-user")
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, other)
    with EmbeddedBroker() as broker:
        assert broker.kind == "mosquitto"
        assert broker._tmp is not None and broker._proc is not None
        conf = (Path(broker._tmp.name) / "mosquitto.conf").read_text()
        assert f"user {me}\n" in conf, conf
        # As root, Mosquitto switches to the configured user (losing the parent-death signal).
        assert _uid(broker._proc.pid) == os.geteuid()
