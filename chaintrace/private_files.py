"""Files that hold every salt (backups, audit exports): readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path


def private_file(path: Path) -> None:
    """Create `path` empty, readable and writable by its owner only (0600), whatever the umask."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
