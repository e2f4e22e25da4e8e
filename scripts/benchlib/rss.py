"""Sample the resident memory of a process tree from /proc (no psutil needed): peak per process and in total."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def parent_of(pid: int, proc: Path = PROC) -> int | None:
    """Return the parent pid of ``pid``, or None when it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def descendants(root: int, proc: Path = PROC) -> list[int]:
    """Return ``root`` and every living descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            ppid = parent_of(int(entry.name), proc)
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in found or not (proc / str(pid)).exists():
            continue
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def memory_kb(pid: int, proc: Path = PROC) -> tuple[int, int] | None:
    """Return (VmRSS, VmHWM) of ``pid`` in kB, or None when it is gone (or a kernel thread)."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    if "VmRSS" not in values:
        return None
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


def cmdline(pid: int, proc: Path = PROC) -> list[str]:
    """Return the argv of ``pid`` (empty when it is gone)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """Return the user + system CPU seconds ``pid`` has used (0 when it is gone)."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ProcessPeak:
    """Hold what was seen of one process: its label and the highest resident memory."""

    pid: int
    label: str
    peak_kb: int = 0
    last_kb: int = 0


@dataclass
class RssSampler:
    """Sample a process tree every ``interval_s`` in a background thread.

    The peak of a process is the larger of the sampled VmRSS values and the kernel's own high-water mark
    (VmHWM), so short spikes between samples are not missed. ``label`` names a process from its argv.
    """

    roots: list[int]
    label: Callable[[list[str]], str | None] = lambda argv: " ".join(argv[:3]) or None
    interval_s: float = 1.0
    proc: Path = PROC
    peaks: dict[int, ProcessPeak] = field(default_factory=dict)
    total_peak_kb: int = 0
    samples: int = 0

    def __post_init__(self) -> None:
        """Prepare the thread; call start()."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._lock = threading.Lock()

    def add_root(self, pid: int) -> None:
        """Also follow the tree of ``pid``."""
        with self._lock:
            self.roots.append(pid)

    def sample(self) -> int:
        """Take one sample now and return the tree's total resident memory in kB."""
        total = 0
        with self._lock:
            roots = list(self.roots)
        seen: set[int] = set()
        for root in roots:
            for pid in descendants(root, self.proc):
                if pid in seen:
                    continue
                seen.add(pid)
                memory = memory_kb(pid, self.proc)
                if memory is None:
                    continue
                rss, hwm = memory
                peak = self.peaks.get(pid)
                if peak is None:
                    name = self.label(cmdline(pid, self.proc))
                    if name is None:
                        continue
                    peak = self.peaks[pid] = ProcessPeak(pid, name)
                peak.peak_kb = max(peak.peak_kb, rss, hwm)
                peak.last_kb = rss
                total += rss
        self.total_peak_kb = max(self.total_peak_kb, total)
        self.samples += 1
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def start(self) -> RssSampler:
        """Start sampling in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take a last sample and stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.sample()

    def by_label(self) -> dict[str, float]:
        """Return the peak in MB per label (labels of several processes get #1, #2 … by pid)."""
        grouped: dict[str, list[ProcessPeak]] = {}
        for peak in sorted(self.peaks.values(), key=lambda p: p.pid):
            grouped.setdefault(peak.label, []).append(peak)
        result: dict[str, float] = {}
        for name, peaks in grouped.items():
            for number, peak in enumerate(peaks, start=1):
                key = name if len(peaks) == 1 else f"{name}#{number}"
                result[key] = peak.peak_kb / 1024
        return result

    def cpu_by_label(self) -> dict[str, float]:
        """Return the CPU seconds (user + system) each known process has used so far, keyed like by_label()."""
        grouped: dict[str, list[ProcessPeak]] = {}
        for peak in sorted(self.peaks.values(), key=lambda p: p.pid):
            grouped.setdefault(peak.label, []).append(peak)
        result: dict[str, float] = {}
        for name, peaks in grouped.items():
            for number, peak in enumerate(peaks, start=1):
                key = name if len(peaks) == 1 else f"{name}#{number}"
                result[key] = cpu_seconds(peak.pid, self.proc)
        return result

    def sum_of_peaks_mb(self) -> float:
        """Return the sum of every process's peak, in MB (an upper bound of the simultaneous peak)."""
        return sum(p.peak_kb for p in self.peaks.values()) / 1024
