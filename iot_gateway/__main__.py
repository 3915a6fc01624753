"""`python -m iot_gateway`: run one gateway from environment settings until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from core.recursion import bound_recursion_limit
from iot_gateway.gateway import Gateway
from iot_gateway.settings import GatewaySettings


def main() -> int:
    """Entry point; returns the process exit code."""
    bound_recursion_limit()  # after every import: web3's py_ecc raised it to 100,000
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = GatewaySettings()  # type: ignore[call-arg]  # filled from the environment
    except ValidationError as exc:
        print(f"iot_gateway: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    gateway = Gateway(settings)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("iot_gateway").info("signal %d: stopping", signum)
        # stop() joins threads: run it off the signal handler so run() can return.
        threading.Thread(target=gateway.stop, name="gateway-stop").start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        gateway.run()
    except SQLAlchemyError as exc:
        print(f"iot_gateway: database unavailable: {exc}", file=sys.stderr)
        gateway.stop()
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
