"""What `chaintrace up` and `node` print once running: every endpoint, passwords masked."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chaintrace.runinfo import RunInfo


def masked(url: str) -> str:
    """`url` with its password, if any, shown as ***: for a terminal or a log, never a file."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def endpoint_lines(info: RunInfo, state_dir: Path) -> list[str]:
    """One line per endpoint of `info`, then where run.json is."""
    rows: list[tuple[str, str]] = []
    if info.api_url:
        rows.append(("API", f"{info.api_url}  (Swagger UI {info.api_url}/docs, ReDoc /redoc)"))
    if info.chain_rpc_url:
        rows.append(("chain RPC", info.chain_rpc_url))
    if info.mqtt_url:
        rows.append(("MQTT broker", f"{masked(info.mqtt_url)}  (MQTT {info.mqtt_protocol})"))
    if info.database_url:
        rows.append(("database", masked(info.database_url)))
    if info.deployments_file:
        rows.append(("deployments", info.deployments_file))
    rows.append(("run.json", str(state_dir / "run.json")))
    return [f"  {name:<12} {value}" for name, value in rows]
