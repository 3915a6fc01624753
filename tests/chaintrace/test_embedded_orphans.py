"""A crashed dev-mode owner takes its anvil and Mosquitto with it (no orphans on its ports)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.utils.mosquitto import find_mosquitto, skip_or_fail
from tests.utils.process_tree import descendants

_CLI = Path(sys.executable).with_name("chaintrace")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


def test_sigkill_of_chaintrace_node_ends_anvil_and_the_broker(tmp_path: Path) -> None:
    if find_mosquitto() is None:
        skip_or_fail("mosquitto is not installed: the embedded broker would be amqtt, in-process")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CHAINTRACE_")},
        "CHAINTRACE_HOME": str(tmp_path / "home"),
    }
    log = (tmp_path / "node.log").open("wb")
    owner = subprocess.Popen(
        [str(_CLI), "node", "--fresh"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120  # a deadline for a loaded machine, not a timing check
        while not (tmp_path / "home" / "run.json").exists():
            assert owner.poll() is None, (tmp_path / "node.log").read_text()
            assert time.monotonic() < deadline, "chaintrace node did not start"
            time.sleep(0.2)
        children = [p for p in descendants(owner.pid) if _name(p) in ("anvil", "mosquitto")]
        assert sorted(_name(p) for p in children) == ["anvil", "mosquitto"]
        owner.send_signal(signal.SIGKILL)  # as a segfault would: no cleanup runs
        owner.wait(30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [_name(p) for p in children if _alive(p)] == [], "orphaned after their owner died"
    finally:
        if owner.poll() is None:
            owner.kill()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
