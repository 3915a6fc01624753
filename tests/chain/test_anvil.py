"""chain.toolchain.anvil: a real anvil started, answered, stopped; dev accounts; persisted state."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from chain.errors import ChainConnectionError
from chain.toolchain.anvil import AnvilNode, dev_accounts, rpc_request


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_answer_stop(tmp_path: Path) -> None:
    log = tmp_path / "anvil.log"
    with AnvilNode.start(chain_id=4242, log_path=log) as node:
        assert node.rpc_url.startswith("http://127.0.0.1:")
        assert rpc_request(node.rpc_url, "eth_chainId", []) == hex(4242)
        pid = node.pid
        assert _alive(pid)
    assert node.process.poll() is not None
    assert not _alive(pid)
    assert "Listening on" in log.read_text()
    node.stop()  # idempotent


def test_dev_accounts_are_the_nodes_funded_accounts(anvil_node: AnvilNode) -> None:
    expected = rpc_request(anvil_node.rpc_url, "eth_accounts", [])
    assert isinstance(expected, list)
    derived = [a.address.lower() for a in dev_accounts(len(expected))]
    assert derived == [a.lower() for a in expected]
    assert dev_accounts(3) == anvil_node.accounts(3)
    with pytest.raises(ValueError):
        dev_accounts(-1)


def test_two_nodes_get_distinct_free_ports() -> None:
    with AnvilNode.start() as a, AnvilNode.start() as b:
        assert a.rpc_url != b.rpc_url
        assert rpc_request(b.rpc_url, "eth_blockNumber", []) == "0x0"


def test_state_path_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with AnvilNode.start(state_path=state) as node:
        rpc_request(node.rpc_url, "anvil_mine", ["0x5"])
        assert rpc_request(node.rpc_url, "eth_blockNumber", []) == "0x5"
    # stop() sends SIGTERM, on which anvil writes its state.
    assert state.is_file()
    with AnvilNode.start(state_path=state) as node:
        assert rpc_request(node.rpc_url, "eth_blockNumber", []) == "0x5"


def test_interval_mining() -> None:
    with AnvilNode.start(block_time=1) as node:
        start = int(str(rpc_request(node.rpc_url, "eth_blockNumber", [])), 16)
        # Interval mining produces blocks without transactions: one must come (generous bound,
        # this checks that the option reaches anvil, not how fast it mines).
        deadline = time.monotonic() + 30
        while int(str(rpc_request(node.rpc_url, "eth_blockNumber", [])), 16) == start:
            assert time.monotonic() < deadline, "no block mined with block_time=1"
            time.sleep(0.1)


def test_failed_start_reports_the_log(tmp_path: Path) -> None:
    with pytest.raises(ChainConnectionError, match="anvil exited early"):
        AnvilNode.start(mnemonic="not a valid mnemonic", log_path=tmp_path / "bad.log")
