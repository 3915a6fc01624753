"""The dev-mode endpoints file (`.chaintrace/run.json`) that other processes attach to."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


class RunInfoMissing(RuntimeError):
    """No dev-mode services are running (nothing wrote run.json)."""


@dataclass(frozen=True)
class RunInfo:
    """Endpoints of the embedded services owned by one `up`/`demo`/`node` process.

    Fields are only ever added (with a default), so a reader of an older or newer file works.
    """

    owner_pid: int
    chain_rpc_url: str | None = None
    database_url: str | None = None
    mqtt_url: str | None = None
    mqtt_protocol: str = "5"
    deployments_file: str | None = None
    api_url: str | None = None  # set once the API listens (`up`, `demo`)

    def write(self, state_dir: Path) -> Path:
        """Write atomically, so a reader never sees half a file."""
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / "run.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, state_dir: Path) -> RunInfo:
        """Read run.json, refusing a stale one whose owner process is gone."""
        path = state_dir / "run.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise RunInfoMissing(
                f"{path} not found: start the embedded services with `chaintrace up` "
                "(dev mode) or set the URLs explicitly"
            ) from exc
        known = {f.name for f in fields(cls)}
        info = cls(**{k: v for k, v in data.items() if k in known})
        if not _alive(info.owner_pid):
            raise RunInfoMissing(f"{path} is stale: process {info.owner_pid} is gone")
        return info

    @staticmethod
    def remove(state_dir: Path) -> None:
        """Remove run.json when its owner stops."""
        (state_dir / "run.json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
