"""`chaintrace admin-key` outside the store: the dev admin's wallet, and what to set otherwise."""

from __future__ import annotations

from pathlib import Path

from web3 import Web3

from chain.errors import ChainError
from chain.toolchain.deploy import require_deployment
from chaintrace.runinfo import RunInfo, RunInfoMissing


class AdminWalletUnknown(RuntimeError):
    """Dev mode, but the running chain's deployment cannot be read."""


def dev_admin_wallet(chain_rpc_url: str | None, deployments_file: Path) -> str:
    """The deployer of the running dev chain's contracts (in dev mode also their admin)."""
    if not chain_rpc_url:
        raise AdminWalletUnknown("run.json names no chain: restart `chaintrace up`")
    w3 = Web3(Web3.HTTPProvider(chain_rpc_url, request_kwargs={"timeout": 10}))
    try:
        return require_deployment(w3, deployments_file).deployer
    except ChainError as exc:
        raise AdminWalletUnknown(
            f"the dev chain's deployment cannot be read ({exc}): restart `chaintrace up`, "
            "or pass --wallet"
        ) from None


def missing_database_hint(state_dir: Path) -> str:
    """What to set when neither DATABASE_URL nor dev mode names the store."""
    hint = (
        "DATABASE_URL is not set. Set DATABASE_URL to the store "
        "(postgresql://USER@HOST/DB or sqlite:////path/chaintrace.db) and pass "
        "--wallet ADDRESS, the contracts' admin (`deployer` in the deployments file when it "
        "kept the admin role); for the dev stack run `CHAINTRACE_DEV=1 chaintrace admin-key NAME` "
        "while `chaintrace up` runs."
    )
    try:
        info = RunInfo.read(state_dir)
    except (RunInfoMissing, ValueError, TypeError):
        return hint
    return f"{hint} A dev stack is running now (process {info.owner_pid}): add CHAINTRACE_DEV=1."
