"""Dev-mode embedded defaults: anvil, SQLite and a broker, deployed and written to run.json."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.toolchain.anvil import AnvilNode, dev_accounts
from chain.toolchain.deploy import Deployment, ensure_deployed
from chaintrace.embedded_broker import EmbeddedBroker
from chaintrace.endpoints import masked
from chaintrace.progress import StartupProgress
from chaintrace.runinfo import RunInfo
from store.db import sqlite_url, upgrade

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevAccounts:
    """The roles the dev chain's public test accounts play (never used outside dev mode)."""

    admin: LocalAccount
    anchorer: LocalAccount
    oracle: LocalAccount
    brand: LocalAccount
    carrier: LocalAccount
    buyer: LocalAccount

    @classmethod
    def from_dev_chain(cls) -> DevAccounts:
        a = dev_accounts(6)
        return cls(admin=a[0], anchorer=a[1], oracle=a[2], brand=a[3], carrier=a[4], buyer=a[5])


@dataclass
class EmbeddedServices:
    """What `up`, `demo` and `node` own; other processes attach through run.json."""

    state_dir: Path
    rpc_url: str
    database_url: str
    mqtt_url: str
    mqtt_protocol: str
    deployment: Deployment
    accounts: DevAccounts
    run_info: RunInfo  # what run.json holds
    anvil: AnvilNode | None = None
    broker: EmbeddedBroker | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def deployments_file(self) -> Path:
        return self.state_dir / "deployments.json"

    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))

    def publish_api(self, api_url: str) -> None:
        """Add the API's URL to run.json once the API listens."""
        self.run_info = replace(self.run_info, api_url=api_url)
        self.run_info.write(self.state_dir)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        RunInfo.remove(self.state_dir)
        if self.broker is not None:
            self.broker.stop()
        if self.anvil is not None:
            self.anvil.stop()


def start_embedded(
    state_dir: Path,
    *,
    fresh: bool = False,
    block_time: float | None = 1.0,
    database_url: str | None = None,
    mqtt_url: str | None = None,
    mqtt_protocol: str = "5",
    rpc_url: str | None = None,
    progress: StartupProgress | None = None,
) -> EmbeddedServices:
    """Start what is not given (anvil, SQLite, broker), migrate, deploy, write run.json.

    Each step is reported on `progress` (`chaintrace up`: a line on stderr per step).
    """
    steps = progress or StartupProgress()
    state_dir = state_dir.resolve()  # run.json's paths must work from any working directory
    if fresh and state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    anvil = broker = None
    try:
        if rpc_url is None:
            with steps.step("anvil") as step:
                anvil = AnvilNode.start(
                    block_time=block_time, log_path=state_dir / "anvil.log", die_with_parent=True
                )
                rpc_url = step.detail = anvil.rpc_url
        if database_url is None:
            database_url = sqlite_url(state_dir / "chaintrace.db")
        with steps.step("database") as step:
            upgrade(database_url)
            step.detail = f"{masked(database_url)} migrated"
        if mqtt_url is None:
            with steps.step("MQTT broker") as step:
                broker = EmbeddedBroker().start()
                mqtt_url, mqtt_protocol = broker.url, broker.protocol
                step.detail = f"{masked(mqtt_url)}, {broker.kind}"
        accounts = DevAccounts.from_dev_chain()
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        with steps.step("contracts") as step:
            deployment = ensure_deployed(
                w3,
                accounts.admin,
                admin=accounts.admin.address,
                anchorer=accounts.anchorer.address,
                oracle=accounts.oracle.address,
                path=state_dir / "deployments.json",
            )
            step.detail = f"deployed, TraceAnchor v1 at {deployment.trace_anchor}"
    except BaseException:
        if broker is not None:
            broker.stop()
        if anvil is not None:
            anvil.stop()
        raise
    run_info = RunInfo(
        owner_pid=os.getpid(),
        chain_rpc_url=rpc_url,
        database_url=database_url,
        mqtt_url=mqtt_url,
        mqtt_protocol=mqtt_protocol,
        deployments_file=str(state_dir / "deployments.json"),
    )
    services = EmbeddedServices(
        state_dir=state_dir,
        rpc_url=rpc_url,
        database_url=database_url,
        mqtt_url=mqtt_url,
        mqtt_protocol=mqtt_protocol,
        deployment=deployment,
        accounts=accounts,
        anvil=anvil,
        broker=broker,
        run_info=run_info,
    )
    run_info.write(state_dir)
    _LOGGER.info("embedded services up: %s", services)
    return services
