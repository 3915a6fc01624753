"""Memory and CPU of a process and all its descendants (Linux /proc), sampled in a thread.

Descendants are found by parent pid in /proc/<pid>/stat: this kernel has no
/proc/<pid>/task/<tid>/children, and psutil is not a declared dependency.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Stat:
    ppid: int
    cpu_s: float
    started: int  # clock ticks after boot: with the pid, one process (pids are reused)


def _stat(pid: int) -> _Stat:
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        raise ProcessLookupError(pid)
    return _Stat(int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[19]))


def _status_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB: resident now, and the most ever resident (peaks between samples)."""
    values = {}
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line[:5]] = int(line.split()[1]) / 1024
    if len(values) != 2:  # a zombie has no memory lines
        raise ProcessLookupError(pid)
    return values["VmRSS"], values["VmHWM"]


def role(pid: int, root_pid: int) -> str:
    """What a gateway process is: main, verifier (a spawned worker), resource tracker, other."""
    if pid == root_pid:
        return "main"
    command = (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    if "multiprocessing.spawn" in command and "spawn_main" in command:
        return "verifier"
    if "multiprocessing.resource_tracker" in command:
        return "resource-tracker"
    return command[:60]


def descendants(root_pid: int) -> list[int]:
    """`root_pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(_stat(int(entry.name)).ppid, []).append(int(entry.name))
            except OSError:
                continue
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass
class ProcessFigures:
    """One process of the tree: resident memory at the baseline and at its peak, CPU used."""

    pid: int
    started: int
    role: str
    # None: the process did not exist at the baseline (all of its memory counts as growth).
    baseline_mb: float | None
    peak_mb: float
    cpu_at_baseline_s: float
    cpu_last_s: float
    samples: int = 0

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - (self.baseline_mb or 0.0)

    @property
    def cpu_since_baseline_s(self) -> float:
        return self.cpu_last_s - self.cpu_at_baseline_s


class TreeSampler:
    """Samples VmRSS and VmHWM of `root_pid` and of every descendant, found anew each time."""

    def __init__(self, root_pid: int, interval_s: float = 0.1) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        # Keyed by (pid, start time), so a reused pid is a new process.
        self.figures: dict[tuple[int, int], ProcessFigures] = {}
        self.total_baseline_mb = 0.0
        # The largest sum of the tree's RSS at one sample (simultaneous, unlike the peaks).
        self.total_peak_mb = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def _read(self, *, at_baseline: bool) -> None:
        total = 0.0
        for pid in descendants(self.root_pid):
            try:
                stat = _stat(pid)
                rss, hwm = _status_mb(pid)
                key = (pid, stat.started)
                figures = self.figures.get(key)
                if figures is None:
                    figures = ProcessFigures(
                        pid,
                        stat.started,
                        role(pid, self.root_pid),
                        rss if at_baseline else None,
                        rss,
                        stat.cpu_s if at_baseline else 0.0,
                        stat.cpu_s,
                    )
                    self.figures[key] = figures
            except OSError:  # exited between listing and reading
                continue
            total += rss
            # The baseline is RSS now; VmHWM may hold an import-time peak from before it.
            if not at_baseline:
                figures.peak_mb = max(figures.peak_mb, rss, hwm)
                figures.samples += 1
            figures.cpu_last_s = stat.cpu_s
        if at_baseline:
            self.total_baseline_mb = total
        self.total_peak_mb = max(self.total_peak_mb, total)

    def baseline(self) -> None:
        """Record every process alive now with its RSS; call once, before start()."""
        with self._lock:
            self._read(at_baseline=True)

    def sample(self) -> None:
        with self._lock:
            self._read(at_baseline=False)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling, after one last sample (call while the processes still run)."""
        self._stop.set()
        self._thread.join()
        self.sample()

    def by_role(self, name: str) -> list[ProcessFigures]:
        return [f for f in self.figures.values() if f.role == name]

    def report(self) -> str:
        lines = [
            f"  pid {f.pid:>7} {f.role:<16} baseline "
            + ("  (new)" if f.baseline_mb is None else f"{f.baseline_mb:4.0f} MB")
            + f", peak {f.peak_mb:4.0f} MB, growth {f.growth_mb:4.0f} MB,"
            f" cpu {f.cpu_since_baseline_s:5.1f} s in the flood, {f.samples} samples"
            for f in sorted(self.figures.values(), key=lambda f: f.pid)
        ]
        lines.append(
            f"  total: rss at baseline {self.total_baseline_mb:.0f} MB, highest sampled"
            f" {self.total_peak_mb:.0f} MB, sum of growths"
            f" {sum(f.growth_mb for f in self.figures.values()):.0f} MB"
        )
        return "\n".join(lines)
