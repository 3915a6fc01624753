"""Startup progress for `chaintrace up`: a spinner while a step runs, one line when it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape


@dataclass
class Step:
    """A running step; what it sets in `detail` is printed on its line (an URL, an address)."""

    name: str
    detail: str = ""


class StartupProgress:
    """Steps reported on `console` (stderr); without a console, steps run silently."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Run one step: a spinner on a terminal, then `ok  name  detail (seconds)` or FAILED."""
        step = Step(name)
        if self.console is None:
            yield step
            return
        started = time.monotonic()
        try:
            with self.console.status(f"starting {escape(name)}..."):
                yield step
        except BaseException:
            self.console.print(
                f"[red]FAILED[/red] {escape(name)} after {_since(started)}", soft_wrap=True
            )
            raise
        self.console.print(
            f"[green]ok[/green]  {escape(name):<12} {escape(step.detail)} ({_since(started)})",
            soft_wrap=True,
        )


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"
