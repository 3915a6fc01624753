"""Child processes that end with the process that started them (Linux: PR_SET_PDEATHSIG).

The dev-mode services (anvil, a private Mosquitto) run in their own session so a Ctrl-C in the
terminal does not reach them before their owner stops them in order. That also means a crashed
owner (a segfault, SIGKILL) left them running, holding ports and state. `setpriv --pdeathsig`
(util-linux) sets the death signal and then execs the service, so no Python runs in the forked
child. The signal follows the *thread* that started the child: start it from a thread that lives
as long as the process (the main thread in `chaintrace up`, `node`, `demo`).
"""

from __future__ import annotations

import logging
import shutil

_LOGGER = logging.getLogger(__name__)


def tied_to_parent(args: list[str]) -> list[str]:
    """`args` prefixed so the child gets SIGTERM when its parent dies (as is without setpriv)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        _LOGGER.warning("setpriv not found: %s would outlive a crash of this process", args[0])
        return args
    return [setpriv, "--pdeathsig", "TERM", "--", *args]
