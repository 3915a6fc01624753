"""Start and stop a local anvil node (dev mode and tests); its well-known dev accounts."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Self

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.errors import ChainConnectionError, ChainError
from chain.toolchain.child_process import tied_to_parent

_LOGGER = logging.getLogger(__name__)

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
_LISTENING = re.compile(r"Listening on ([\w.\-\[\]:]+):(\d+)")


@cache
def _derive(mnemonic: str, index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
    return account


def dev_accounts(n: int = 10, mnemonic: str = DEFAULT_MNEMONIC) -> list[LocalAccount]:
    """The first n accounts anvil funds for `mnemonic` (BIP-44 path m/44'/60'/0'/0/i)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return [_derive(mnemonic, i) for i in range(n)]


def find_anvil(root: Path | None = None) -> Path:
    """The project's npm anvil (native binary, else its node wrapper), else `anvil` on PATH."""
    root = root or Path(__file__).resolve().parents[2]
    # The platform package's binary directly: the node wrapper would sit between us and anvil,
    # and an anvil orphaned by the wrapper's exit is never reaped by us.
    for native in sorted((root / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if os.access(native, os.X_OK):
            return native
    local = root / "node_modules" / ".bin" / "anvil"
    if local.is_file():
        return local
    found = shutil.which("anvil")
    if found is None:
        raise ChainError("anvil not found: run `npm ci` or put Foundry's anvil on PATH")
    return Path(found)


def rpc_request(url: str, method: str, params: list[object], timeout: float = 5.0) -> object:
    """One JSON-RPC call over HTTP without web3 (used to probe readiness)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise ChainError(f"{method} failed: {reply['error']}")
    return reply.get("result")


class AnvilNode:
    """A running anvil process in its own process group; stop() ends that group only."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        rpc_url: str,
        log_path: Path,
        chain_id: int,
        mnemonic: str = DEFAULT_MNEMONIC,
    ) -> None:
        self.process = process
        self.rpc_url = rpc_url
        self.log_path = log_path
        self.chain_id = chain_id
        self.mnemonic = mnemonic

    @classmethod
    def start(
        cls,
        port: int | None = None,
        block_time: float | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        state_path: Path | None = None,
        mnemonic: str = DEFAULT_MNEMONIC,
        accounts: int = 10,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        binary: Path | None = None,
        timeout: float = 30.0,
        die_with_parent: bool = False,
    ) -> AnvilNode:
        """Start anvil (port None = a free port chosen by the OS) and wait until it answers.

        `die_with_parent`: anvil gets SIGTERM if this process dies (chain.toolchain.child_process);
        only from a thread that lives as long as the process.
        """
        args = [str(binary or find_anvil()), "--host", host, "--port", str(port or 0)]
        args += ["--chain-id", str(chain_id), "--mnemonic", mnemonic, "--accounts", str(accounts)]
        if block_time is not None:
            args += ["--block-time", str(block_time)]
        if state_path is not None:
            args += ["--state", str(state_path)]
        if die_with_parent:
            args = tied_to_parent(args)
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node = cls(process, "", log_path, chain_id, mnemonic)
        try:
            node.rpc_url = node._wait_ready(host, timeout)
        except BaseException:
            node.stop()
            raise
        _LOGGER.info("anvil pid %d listening at %s (log %s)", process.pid, node.rpc_url, log_path)
        return node

    def _wait_ready(self, host: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        url = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainConnectionError(f"anvil exited early:\n{self.log_tail()}")
            if not url:
                match = _LISTENING.search(self.log_path.read_text(errors="replace"))
                if match:
                    url = f"http://{host}:{match.group(2)}"
            if url:
                try:
                    if rpc_request(url, "eth_chainId", [], timeout=2.0) is not None:
                        return url
                except (OSError, ValueError, ChainError):
                    pass
            time.sleep(0.05)
        raise ChainConnectionError(f"anvil did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the node's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.process.pid

    def accounts(self, n: int = 10) -> list[LocalAccount]:
        """The node's funded dev accounts."""
        return dev_accounts(n, self.mnemonic)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the node's process group (anvil dumps --state then), SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                _LOGGER.warning("anvil pid %d ignored %s", self.process.pid, sig.name)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["DEFAULT_MNEMONIC", "AnvilNode", "dev_accounts", "find_anvil", "rpc_request"]
