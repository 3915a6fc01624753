"""The loop every chain worker shares: one pass at a time until stop(), surviving bad passes."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

_LOGGER = logging.getLogger(__name__)


class PollingWorker(ABC):
    """run() calls run_once() every `poll_interval` seconds until stop()."""

    #: what a failed pass is called in the log ("anchoring", "settlement", ...)
    activity = "pass"

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._stop = threading.Event()

    @abstractmethod
    def run_once(self) -> object:
        """One pass; its report is the subclass's business."""

    def run(self) -> None:
        """Poll until stop(); an error in one pass is logged and retried on the next."""
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # one bad pass (node down, DB busy) must not end the worker
                _LOGGER.exception("%s pass failed; retrying", self.activity)
            self._stop.wait(self.poll_interval)

    def stop(self) -> None:
        """Ask run() to return after the current pass."""
        self._stop.set()
